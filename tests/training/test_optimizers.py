"""The `optimizer` group: fixed arguments from YAML, searched ones from the space, beta1/beta2
as `betas` for any optimiser that takes them, and every key checked against its signature."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from green_ai.config.train import OptimizerConfig
from green_ai.errors import UserError
from green_ai.training.optimizers import build_optimizer, check_optimizer


def params() -> list[nn.Parameter]:
    return list(nn.Linear(2, 2).parameters())


def test_fixed_then_searched_arguments_reach_the_optimizer() -> None:
    spec = OptimizerConfig(
        name="sgd", target="torch.optim.SGD", kwargs={"lr": 0.01, "momentum": 0.0}
    )
    opt = build_optimizer(spec, params(), {"lr": 0.2, "momentum": 0.9})
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"]) == (0.2, 0.9)


def test_beta1_and_beta2_become_betas_for_any_optimizer_with_betas() -> None:
    spec = OptimizerConfig(name="adamw", target="torch.optim.AdamW")
    group = build_optimizer(spec, params(), {"beta1": 0.8}).param_groups[0]
    assert group["betas"] == (0.8, 0.999)  # the other keeps AdamW's own default
    nadam = OptimizerConfig(
        name="nadam", target="torch.optim.NAdam", kwargs={"betas": [0.7, 0.95]}
    )
    group = build_optimizer(nadam, params(), {"beta2": 0.99}).param_groups[0]
    assert group["betas"] == (0.7, 0.99)


@pytest.mark.parametrize(
    ("spec", "searched", "message"),
    [
        (
            OptimizerConfig("sgd", "torch.optim.SGD"),
            ["beta1"],
            "beta1 is not an argument of torch.optim.SGD",
        ),
        (
            OptimizerConfig("x", "torch.optim.Nope"),
            [],
            "optimizer._target_=torch.optim.Nope does not import",
        ),
        (OptimizerConfig("x", "nowhere.Opt"), [], "does not import: No module named 'nowhere'"),
        (
            OptimizerConfig("sgd", "torch.optim.SGD", {"mom": 0.9}),
            [],
            "optimizer.mom is not an argument",
        ),
    ],
)
def test_a_wrong_optimizer_is_one_line(
    spec: OptimizerConfig, searched: list[str], message: str
) -> None:
    with pytest.raises(UserError, match=message) as err:
        check_optimizer(spec, searched)
    assert "\n" not in str(err.value)
