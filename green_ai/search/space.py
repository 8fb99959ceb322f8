"""Search spaces from `conf/hparams/*.yaml` as Optuna distributions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, FloatDistribution

from green_ai.errors import UserError
from green_ai.training.loop import ADAM_DEFAULTS


def build_space(hparams_cfg: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """`params: {name: {low, high, log}}` -> Optuna distributions, checked for sense."""
    params = hparams_cfg.get("params")
    if not params:
        raise UserError("the hparams config has no `params:`; use hparams=adam3 or adam5")
    space: dict[str, BaseDistribution] = {}
    for name, spec in params.items():
        if name not in ADAM_DEFAULTS:
            raise UserError(
                f"hparams.params.{name} is not an Adam hyperparameter; use {list(ADAM_DEFAULTS)}"
            )
        low, high, log = float(spec["low"]), float(spec["high"]), bool(spec.get("log", False))
        if not low < high:
            raise UserError(f"hparams.params.{name}: low={low} must be below high={high}")
        if log and low <= 0:
            raise UserError(f"hparams.params.{name}: a log-scaled range needs low > 0, got {low}")
        space[str(name)] = FloatDistribution(low, high, log=log)
    return space


def suggest(trial: optuna.Trial, space: Mapping[str, BaseDistribution]) -> dict[str, float]:
    """Ask the trial for every parameter of the space."""
    values: dict[str, float] = {}
    for name, dist in space.items():
        assert isinstance(dist, FloatDistribution)
        values[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    return values
