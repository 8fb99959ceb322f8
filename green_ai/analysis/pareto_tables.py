"""Accuracy-and-energy studies (`search.objectives=[accuracy,energy]`): their fronts, measured
by hypervolume, with and without `search.pruner=pareto`.

The hypervolume of a front is the area it dominates up to a reference point: higher is better,
and it grows whenever a round adds a better trade-off (a two-objective front: a sweep over the
rounds sorted by joules). Every study of one comparison is measured from the same reference
point, stated in the table: the worst value of the first objective (accuracy: 0) and the most
joules any COMPLETE round of the compared studies spent. Only COMPLETE rounds form a front: a
pruned round's accuracy is no result (green_ai.search.pareto_pruning), but its joules count
in what the study spent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from green_ai.analysis import stats
from green_ai.analysis.search_tables import (
    PRUNING_GROUP,
    SEARCH_COLUMNS,
    THESIS_OBJECTIVE,
    Objective,
    search_keys,
)


def hypervolume(
    values: ArrayLike, energies: ArrayLike, reference: tuple[float, float], *, maximize: bool
) -> float:
    """Area dominated by the points (value, joules) up to `reference` (value, joules); joules
    are minimised, the value maximised or minimised. Points outside the reference and NaNs
    add nothing."""
    v = np.asarray(values, dtype=float).ravel()
    e = np.asarray(energies, dtype=float).ravel()
    sign = 1.0 if maximize else -1.0
    ref_v, ref_e = sign * reference[0], reference[1]
    v = sign * v
    keep = np.isfinite(v) & np.isfinite(e) & (v > ref_v) & (e < ref_e)
    area, best = 0.0, ref_v
    # From the cheapest point on, each one that beats every cheaper one adds a strip.
    for joules, value in sorted(zip(e[keep], v[keep], strict=True)):
        if value > best:
            area += (value - best) * (ref_e - joules)
            best = value
    return float(area)


def hypervolume_so_far(
    values: ArrayLike, energies: ArrayLike, reference: tuple[float, float], *, maximize: bool
) -> NDArray[np.float64]:
    """The hypervolume of the front of the first k points, for every k."""
    v = np.asarray(values, dtype=float).ravel()
    e = np.asarray(energies, dtype=float).ravel()
    return np.array(
        [hypervolume(v[: k + 1], e[: k + 1], reference, maximize=maximize) for k in range(len(v))]
    )


def is_pareto(studies: pd.DataFrame) -> pd.Series:
    """Studies of two objectives, the second energy (their parent run's `objectives` param)."""
    if "objectives" not in studies.columns:
        return pd.Series(False, index=studies.index)
    names = studies["objectives"].astype(str).str.split(",")
    return names.map(lambda n: len(n) == 2 and n[1] == "energy")


def reference_point(c: pd.DataFrame, objective: Objective) -> tuple[float, float]:
    """The stated reference of one comparison (`c`: its studies' curves, with `energy`)."""
    done = c[c["state"] == "COMPLETE"]
    worst = stats.best_value(done["value"], maximize=not objective.maximize)
    value = 0.0 if objective.is_thesis else worst
    return value, float(done["energy"].max())


def pareto_pruning_table(
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    target_pct: float,
    objective: Objective = THESIS_OBJECTIVE,
) -> pd.DataFrame:
    """Each strategy's accuracy-and-energy studies with and without Pareto pruning: joules
    spent, the front's hypervolume (one reference point per comparison), and the joules until
    the hypervolume came within `target_pct` % of the largest any of them reached.

    `*_vs_unpruned_pct` compare with the mean of the same strategy's studies without a pruner.
    """
    keyed = pd.DataFrame([search_keys(s) for _, s in studies.iterrows()], columns=SEARCH_COLUMNS)
    parts: list[pd.DataFrame] = []
    for _, group in keyed.groupby(PRUNING_GROUP, sort=True, dropna=False):
        if (group["pruner"] == "none").all():
            continue
        c = curves[curves["study_name"].isin(group["study"])]
        done = c[c["state"] == "COMPLETE"]
        if done.empty or done["value"].isna().all() or done["energy"].isna().all():
            continue
        reference = reference_point(c, objective)
        rows = [
            _row(k, curves[curves["study_name"] == k["study"]], reference, objective)
            for k in group.to_dict("records")
        ]
        part = pd.DataFrame(rows)
        target = (1.0 - target_pct / 100.0) * float(part["hypervolume"].max())
        part["target_hypervolume"] = target
        part["energy_to_target_j"] = [
            _energy_to(curves[curves["study_name"] == k["study"]], reference, target, objective)
            for k in group.to_dict("records")
        ]
        unpruned = part["pruner"] == "none"
        for column in ("energy_j", "hypervolume"):
            base = part.loc[unpruned, column].mean()  # NaN without one
            part[f"{column.removesuffix('_j')}_vs_unpruned_pct"] = (part[column] / base - 1) * 100
        parts.append(part)
    columns = [
        *SEARCH_COLUMNS,
        "rounds",
        "pruned_rounds",
        "front_rounds",
        "energy_j",
        "hypervolume",
        f"reference_{objective.name}",
        "reference_energy_j",
        "target_hypervolume",
        "energy_to_target_j",
        "energy_vs_unpruned_pct",
        "hypervolume_vs_unpruned_pct",
    ]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _row(
    keys: dict[str, Any], c: pd.DataFrame, reference: tuple[float, float], objective: Objective
) -> dict[str, Any]:
    done = c[c["state"] == "COMPLETE"]
    values, energies = done["value"].to_numpy(float), done["energy"].to_numpy(float)
    volume = hypervolume(values, energies, reference, maximize=objective.maximize)
    return {
        **keys,
        "rounds": len(c),
        "pruned_rounds": int((c["state"] == "PRUNED").sum()),
        "front_rounds": int(_front_mask(values, energies, objective.maximize).sum()),
        "energy_j": float(c["cumulative_energy_j"].iloc[-1]) if len(c) else np.nan,
        "hypervolume": volume,
        f"reference_{objective.name}": reference[0],
        "reference_energy_j": reference[1],
    }


def _energy_to(
    c: pd.DataFrame, reference: tuple[float, float], target: float, objective: Objective
) -> float | None:
    """Joules the study spent (pruned rounds' included) until its front reached `target`."""
    complete = (c["state"] == "COMPLETE").to_numpy()
    values = np.where(complete, c["value"].to_numpy(float), np.nan)
    volumes = hypervolume_so_far(
        values, c["energy"].to_numpy(float), reference, maximize=objective.maximize
    )
    idx = stats.first_reached(volumes, target * (1 - 1e-12), maximize=True)
    return None if idx is None else float(c["cumulative_energy_j"].iloc[idx])


def _front_mask(values: NDArray[np.float64], energies: NDArray[np.float64], maximize: bool) -> Any:
    """Which points no other point dominates (at least as good in both, better in one)."""
    v = values if maximize else -values
    ok = np.isfinite(v) & np.isfinite(energies)
    mask = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero(ok):
        at_least = ok & (v >= v[i]) & (energies <= energies[i])
        better = (v > v[i]) | (energies < energies[i])
        mask[i] = not (at_least & better).any()
    return mask
