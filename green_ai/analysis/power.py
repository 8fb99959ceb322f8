"""How many repetitions a factorial needs (`python -m green_ai.plan`; thesis §3.7.1).

The thesis ran 24 repetitions of every configuration and hoped background noise would be
"drowned out". The power of its test (Kruskal–Wallis on energy across a factor's levels,
§3.3.4) is simulated here from a pilot's own observations, not from a normal approximation:
for a candidate number n of repetitions per cell, every cell's observations are resampled n at
a time (bootstrap), the test is run on the resampled factorial, and the share of simulations
that reject at `alpha` is the power at n. The plan is the smallest n whose power reaches the
target. Seeds are fixed, so the same pilot gives the same plan.

`effect="observed"` resamples the pilot as it is: the repetitions that would have detected the
effect it shows. A relative effect (0.05) first takes the factor's observed effect out (each
level's observations divided by the level's mean, so the other factors' spread stays) and then
puts exactly that difference between the lowest level and the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from green_ai.analysis.factorial_tables import varying_factors
from green_ai.analysis.runs import level_label

PLAN_COLUMNS = [
    "dataset",
    "factor",
    "levels",
    "cells",
    "effect",
    "current_repetitions",
    "power_at_current",
    "repetitions_needed",
    "power_at_needed",
]


@dataclass(frozen=True)
class PowerSettings:
    power: float = 0.8
    alpha: float = 0.05
    simulations: int = 400
    max_repetitions: int = 100
    seed: int = 0


@dataclass(frozen=True)
class Design:
    """One factor of one dataset's factorial: each cell's observations and its level."""

    cells: list[NDArray[np.float64]]
    levels: list[int]  # the cell's level of the factor, 0 = lowest

    @property
    def current(self) -> int:
        """Repetitions per cell in the pilot (its smallest cell)."""
        return min(len(c) for c in self.cells)


def design_of(points: pd.DataFrame, factor: str, effect: float | None) -> Design:
    """A factor's cells from a dataset's observations (`config`, the factor, `energy_j`),
    with `effect` (relative, None: as observed) put between its levels."""
    from green_ai.analysis.stats import _natural

    order = sorted({level_label(v) for v in points[factor]}, key=_natural)
    cells, levels = [], []
    for _, g in points.groupby("config", sort=True):
        values = g["energy_j"].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            cells.append(values)
            levels.append(order.index(level_label(g[factor].iloc[0])))
    if effect is not None:
        level_means = {
            lv: float(
                np.mean(np.concatenate([c for c, x in zip(cells, levels, strict=True) if x == lv]))
            )
            for lv in set(levels)
        }
        base = float(np.mean(np.concatenate(cells)))
        cells = [
            c / level_means[lv] * base * (1.0 + (effect if lv > 0 else 0.0))
            for c, lv in zip(cells, levels, strict=True)
        ]
    return Design(cells, levels)


def power_at(design: Design, n: int, settings: PowerSettings) -> float:
    """Share of `settings.simulations` bootstrap factorials with `n` observations per cell in
    which Kruskal–Wallis across the factor's levels rejects at `alpha` (scipy's test, run on
    all simulations at once along an axis)."""
    rng = np.random.default_rng([settings.seed, n])
    sims = settings.simulations
    by_level: dict[int, list[NDArray[np.float64]]] = {}
    for cell, level in zip(design.cells, design.levels, strict=True):
        by_level.setdefault(level, []).append(rng.choice(cell, size=(sims, n), replace=True))
    samples = [np.concatenate(by_level[level], axis=1) for level in sorted(by_level)]
    pooled = np.concatenate(samples, axis=1)
    varied = np.ptp(pooled, axis=1) > 0  # all equal: H is undefined, nothing to reject
    if not varied.any():
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = stats.kruskal(*(s[varied] for s in samples), axis=1).pvalue
    return float(np.sum(p < settings.alpha)) / sims


def repetitions_needed(
    design: Design, settings: PowerSettings, powers: dict[int, float] | None = None
) -> tuple[int | None, float]:
    """The fewest repetitions per cell with power at least `settings.power`, and that power;
    (None, power at the maximum) when even `max_repetitions` do not reach it. `powers`, when
    given, receives the power at every n tried (the same seed per n: the same figures)."""
    power = 0.0
    for n in range(1, settings.max_repetitions + 1):
        power = power_at(design, n, settings)
        if powers is not None:
            powers[n] = power
        if power >= settings.power:
            return n, power
    return None, power


def plan_table(
    points: pd.DataFrame, effect: float | None, settings: PowerSettings
) -> pd.DataFrame:
    """A row per dataset and factor of `points` (the factorial observations of the report:
    `dataset`, `config`, the factors, `energy_j`)."""
    rows = []
    for dataset, p in points.groupby("dataset", sort=True):
        for factor in varying_factors(p):
            design = design_of(p, factor, effect)
            powers: dict[int, float] = {}
            needed, reached = repetitions_needed(design, settings, powers)
            current = powers.get(design.current)
            if current is None:  # more repetitions now than the plan needed to try
                current = power_at(design, design.current, settings)
            rows.append(
                {
                    "dataset": dataset,
                    "factor": factor,
                    "levels": len(set(design.levels)),
                    "cells": len(design.cells),
                    "effect": "observed" if effect is None else f"{effect:g}",
                    "current_repetitions": design.current,
                    "power_at_current": current,
                    "repetitions_needed": needed,
                    "power_at_needed": reached,
                }
            )
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)
