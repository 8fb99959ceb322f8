"""Search spaces (`conf/hparams/*.yaml`) as Optuna distributions."""

from __future__ import annotations

from collections.abc import Mapping

import optuna
from optuna.distributions import BaseDistribution, FloatDistribution

from green_ai.config.train import HparamsConfig


def build_space(hparams: HparamsConfig) -> dict[str, BaseDistribution]:
    """One Optuna distribution per searched parameter (the settings checked the ranges)."""
    return {
        name: FloatDistribution(spec.low, spec.high, log=spec.log)
        for name, spec in hparams.params.items()
    }


def suggest(trial: optuna.Trial, space: Mapping[str, BaseDistribution]) -> dict[str, float]:
    """Ask the trial for every parameter of the space."""
    values: dict[str, float] = {}
    for name, dist in space.items():
        assert isinstance(dist, FloatDistribution)
        values[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    return values
