"""The grid of grid search (thesis §3.2.2, §3.3.3): values per parameter and the grid's size.

The original testbed built its values as ``low + i * (high - low) / 5`` for ``i < 5`` and so
never reached the upper bound (SPEC, "Known defects"). Here both bounds are always on the grid.
The thesis divides every continuous range into "five uniformly-distributed values" (§3.3.3):
``spacing="linear"``. The default, ``spacing="log"``, spaces log-scaled parameters (α, ε, w)
evenly in log space instead, where uniform values would put four of five in the top decade.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Literal

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

from green_ai.config.checks import require_choice, require_int
from green_ai.errors import UserError

__all__ = ["SPACINGS", "GridSearchSampler", "grid_size", "grid_values"]

GridValue = float | int | str | bool | None
Spacing = Literal["log", "linear"]
# "log": log-scaled parameters evenly in log space, the others evenly; "linear": every
# parameter evenly, as the thesis did (§3.3.3).
SPACINGS: tuple[Spacing, ...] = ("log", "linear")


def grid_values(
    space: dict[str, BaseDistribution], grid_points: int, spacing: Spacing = "log"
) -> dict[str, list[GridValue]]:
    """``grid_points`` evenly spaced values per numeric parameter, both bounds included.

    With ``spacing="log"`` log-scaled parameters are spaced evenly in log space, with
    ``"linear"`` every parameter evenly in its own units. Integer and stepped parameters are
    snapped to their step (duplicates dropped); categorical parameters keep all their choices.
    """
    # Both bounds on the grid need two values at least.
    require_int("search.sampler.grid_points", grid_points, minimum=2)
    require_choice("search.sampler.spacing", spacing, SPACINGS)
    return {name: _values(dist, grid_points, spacing) for name, dist in space.items()}


def grid_size(
    space: dict[str, BaseDistribution], grid_points: int, spacing: Spacing = "log"
) -> int:
    """Number of points of the full Cartesian grid: the most rounds a grid study can run."""
    return math.prod(len(v) for v in grid_values(space, grid_points, spacing).values())


def _values(dist: BaseDistribution, n: int, spacing: Spacing) -> list[GridValue]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if not isinstance(dist, (FloatDistribution, IntDistribution)):
        raise UserError(f"grid search cannot divide a {type(dist).__name__}; use a float range.")
    if dist.single():
        return [dist.low]
    evenly = np.geomspace if dist.log and spacing == "log" else np.linspace
    raw = evenly(dist.low, dist.high, n)
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
