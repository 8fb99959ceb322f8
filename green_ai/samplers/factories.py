"""Factories named by `conf/search/*.yaml` (`_target_` with `_partial_: true`).

The study loop calls each one as ``factory(space=..., seed=...)``: every strategy sees the
search space (the grid needs it) and the config's seed, so one seed reproduces a study. Extra
keys under ``search.sampler`` in the yaml (``grid_points``, ``spacing``, ``xi``, ...) arrive as
keywords.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.distributions import BaseDistribution

from green_ai.errors import UserError
from green_ai.samplers._gp_pi import DEFAULT_XI, GPPISampler
from green_ai.samplers._grid import GridSearchSampler, Spacing, grid_values


def random_sampler(
    *, space: dict[str, BaseDistribution], seed: int
) -> optuna.samplers.BaseSampler:
    """Independent uniform draws (log-uniform for log-scaled parameters), thesis §3.2.2."""
    del space  # random search needs no knowledge of the space ahead of time
    return optuna.samplers.RandomSampler(seed=seed)


def grid_sampler(
    *,
    space: dict[str, BaseDistribution],
    seed: int,
    grid_points: int = 5,
    spacing: Spacing = "log",
) -> optuna.samplers.BaseSampler:
    """The full grid, ``grid_points`` values per parameter, in seeded random order (§3.3.3).

    ``spacing="linear"`` spaces every parameter evenly, as the thesis did; ``"log"`` spaces
    log-scaled ones evenly in log space. Optuna's ``GridSampler`` visits each point once and
    ends the study when the grid is done. The seed matters: ``GridSampler(seed=None)``
    shuffles the grid the same way every time.
    """
    return GridSearchSampler(grid_values(space, grid_points, spacing), seed=seed)


def gp_pi_sampler(
    *,
    space: dict[str, BaseDistribution],
    seed: int,
    n_startup_trials: int = 10,
    xi: float | Sequence[float] = DEFAULT_XI,
    n_candidates: int = 2048,
    n_local_starts: int = 5,
) -> optuna.samplers.BaseSampler:
    """Our GP with Probability of Improvement (Eq. 3.1, Algorithm 1); see `GPPISampler`."""
    del space  # the GP reads the space from the study's trials
    try:
        return GPPISampler(
            seed=seed,
            n_startup_trials=n_startup_trials,
            xi=list(xi) if isinstance(xi, Sequence) else xi,
            n_candidates=n_candidates,
            n_local_starts=n_local_starts,
        )
    except ValueError as e:
        raise UserError(f"search=gp_pi: {e} Fix the value under search.sampler.") from e


def tpe_sampler(
    *, space: dict[str, BaseDistribution], seed: int, n_startup_trials: int = 10
) -> optuna.samplers.BaseSampler:
    """Optuna's Tree-structured Parzen Estimator, for comparison (not in the thesis)."""
    del space
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)


def gp_sampler(
    *, space: dict[str, BaseDistribution], seed: int, n_startup_trials: int = 10
) -> optuna.samplers.BaseSampler:
    """Optuna's own GP sampler (Matérn-5/2, log expected improvement), for comparison."""
    del space
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup_trials)
