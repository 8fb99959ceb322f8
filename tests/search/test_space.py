"""Search spaces in YAML: floats, integers and categories, each with where its value goes."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from green_ai.config.train import HparamsConfig, ParamRange
from green_ai.errors import UserError
from green_ai.samplers._grid import grid_values
from green_ai.search.space import build_space, largest_batch_size, suggest, values_for


def space() -> HparamsConfig:
    return HparamsConfig(
        name="mine",
        params={
            "lr": ParamRange(low=1e-3, high=0.3, log=True),
            "width": ParamRange(type="int", low=4, high=16, target="net"),
            "dropout": ParamRange(choices=[0.0, 0.1, 0.3], target="task"),
            "batch": ParamRange(choices=[32, 128], target="batch_size"),
        },
    )


def test_each_kind_becomes_its_distribution_and_every_strategy_can_draw_it() -> None:
    dists = build_space(space())
    assert isinstance(dists["lr"], FloatDistribution) and dists["lr"].log
    assert isinstance(dists["width"], IntDistribution) and (
        dists["width"].low,
        dists["width"].high,
    ) == (4, 16)
    assert isinstance(dists["dropout"], CategoricalDistribution)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    values = suggest(study.ask(), dists)
    assert isinstance(values["width"], int) and values["dropout"] in (0.0, 0.1, 0.3)
    grid = grid_values(dists, 5)
    assert grid["width"] == [4, 7, 10, 13, 16] and grid["batch"] == [32, 128]


def test_values_go_where_their_target_says() -> None:
    hp = space()
    values = {"lr": 0.01, "width": 8, "dropout": 0.1, "batch": 32}
    assert values_for(hp, values, "optimizer") == {"lr": 0.01}
    assert values_for(hp, values, "net") == {"width": 8}
    assert values_for(hp, values, "task") == {"dropout": 0.1}
    assert largest_batch_size(hp, 64) == 128


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ParamRange(log=True), "has no bounds"),
        (ParamRange(low=0.3, high=0.1), "low=0.3 must be below high=0.1"),
        (ParamRange(low=0, high=1, log=True), "needs low > 0"),
        (ParamRange(choices=[]), "choices is empty"),
        (ParamRange(type="int", low=1.5, high=4), "must be a whole number"),
        (ParamRange(low=1, high=4, target="model"), "target='model' is not one of"),
        (ParamRange(low=1e-3, high=0.1, target="batch_size"), "batch_size needs type: int"),
    ],
)
def test_a_wrong_entry_is_one_line(spec: ParamRange, message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        HparamsConfig(name="bad", params={"p": spec})
    assert "\n" not in str(err.value) and "hparams.params.p" in str(err.value)
