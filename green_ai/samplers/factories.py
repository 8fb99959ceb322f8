"""Factories named by `conf/search/*.yaml` (`_target_` with `_partial_: true`).

The study loop calls each one as ``factory(space=..., seed=...)``: every strategy sees the
search space (the grid needs it) and the config's seed, so one seed reproduces a study.
"""

from __future__ import annotations

import optuna
from optuna.distributions import BaseDistribution


def random_sampler(*, space: dict[str, BaseDistribution], seed: int) -> optuna.samplers.BaseSampler:
    """Independent uniform draws (log-uniform for log-scaled parameters), thesis §3.2.2."""
    del space  # random search needs no knowledge of the space ahead of time
    return optuna.samplers.RandomSampler(seed=seed)
