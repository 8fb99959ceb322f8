"""Search spaces (`conf/hparams/*.yaml`) as Optuna distributions, and a round's values split
by where they go (`target`: the optimizer, the net, the task, the batch size)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from green_ai.config.train import HparamsConfig, ParamRange


def distribution(spec: ParamRange) -> BaseDistribution:
    """The Optuna distribution of one searched parameter (the settings checked it)."""
    if spec.type == "categorical":
        return CategoricalDistribution(list(spec.choices or []))
    if spec.type == "int":
        return IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=spec.step or 1)
    return FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)


def build_space(hparams: HparamsConfig) -> dict[str, BaseDistribution]:
    """One Optuna distribution per searched parameter."""
    return {name: distribution(spec) for name, spec in hparams.params.items()}


def suggest(trial: optuna.Trial, space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """Ask the trial for every parameter of the space."""
    values: dict[str, Any] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            values[name] = trial.suggest_int(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
        else:
            assert isinstance(dist, FloatDistribution)
            values[name] = trial.suggest_float(
                name, dist.low, dist.high, step=dist.step, log=dist.log
            )
    return values


def values_for(hparams: HparamsConfig, values: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The round's values aimed at `target` (optimizer, net, task, batch_size)."""
    return {
        k: v
        for k, v in values.items()
        if k in hparams.params and hparams.params[k].target == target
    }


def largest_batch_size(hparams: HparamsConfig, default: int) -> int:
    """The largest batch size any round can use (the warm-up covers it)."""
    sizes = [default]
    for spec in hparams.params.values():
        if spec.target == "batch_size":
            sizes.append(int(max(spec.choices)) if spec.choices else int(spec.high))
    return max(sizes)
