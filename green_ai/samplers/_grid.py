"""The grid of grid search (thesis §3.2.2, §3.3.3): values per parameter and the grid's size.

The original testbed built its values as ``low + i * (high - low) / 5`` for ``i < 5`` and so
never reached the upper bound (SPEC, "Known defects"). Here both bounds are always on the grid.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from green_ai.errors import UserError

__all__ = ["GridSearchSampler", "grid_size", "grid_values"]

GridValue = float | int | str | bool | None


def grid_values(
    space: dict[str, BaseDistribution], grid_points: int
) -> dict[str, list[GridValue]]:
    """``grid_points`` evenly spaced values per numeric parameter, both bounds included.

    Log-scaled parameters are spaced evenly in log space; integer and stepped parameters are
    snapped to their step (duplicates dropped); categorical parameters keep all their choices.
    """
    if isinstance(grid_points, bool) or not isinstance(grid_points, int) or grid_points < 2:
        raise UserError(
            f"search.sampler.grid_points={grid_points!r}: the grid needs at least 2 values per "
            "parameter to hold both bounds; set e.g. search.sampler.grid_points=5."
        )
    return {name: _values(dist, grid_points) for name, dist in space.items()}


def grid_size(space: dict[str, BaseDistribution], grid_points: int) -> int:
    """Number of points of the full Cartesian grid: the most rounds a grid study can run."""
    return math.prod(len(v) for v in grid_values(space, grid_points).values())


def _values(dist: BaseDistribution, n: int) -> list[GridValue]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if not isinstance(dist, (FloatDistribution, IntDistribution)):
        raise UserError(f"grid search cannot divide a {type(dist).__name__}; use a float range.")
    if dist.single():
        return [dist.low]
    spacing = np.geomspace if dist.log else np.linspace
    raw = spacing(dist.low, dist.high, n)
    step = dist.step
    if step is not None:
        raw = dist.low + np.round((raw - dist.low) / step) * step
    # Ten significant digits keep the values readable in MLflow (1e-4, not 0.00010000000000002);
    # the bounds themselves are set exactly.
    values: list[GridValue] = []
    for i, v in enumerate(raw):
        x: float | int = dist.low if i == 0 else dist.high if i == n - 1 else float(f"{v:.10g}")
        x = int(round(x)) if isinstance(dist, IntDistribution) else float(x)
        if x not in values:
            values.append(x)
    return values


class GridSearchSampler(optuna.samplers.GridSampler):
    """Optuna's ``GridSampler`` that also works in an ask-and-tell loop.

    ``GridSampler`` calls ``study.stop()`` after the last grid point; outside ``study.optimize``
    that raises ``RuntimeError`` (after the trial is stored). Here the stop request is dropped
    in that case: an ask-and-tell loop checks ``is_exhausted(study)`` instead.
    """

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        # ``GridSampler`` asks the study to stop once the last grid point finishes; outside
        # ``optimize`` ``study.stop()`` raises ``RuntimeError`` (its only one here). The trial is
        # stored either way, and ``is_exhausted`` then tells the caller the grid is done.
        with contextlib.suppress(RuntimeError):
            super().after_trial(study, trial, state, values)
