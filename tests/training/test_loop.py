"""The training loop: every Adam value reaches the optimiser, epochs reshuffle, NaN is caught."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from green_ai.data import DeviceData
from green_ai.training import DivergedError, evaluate, make_optimizer, train_repetition
from green_ai.training import loop as loop_module

HP = {"lr": 0.0123, "beta1": 0.81, "beta2": 0.97, "eps": 3e-7, "weight_decay": 0.002}


def tiny_data(n: int = 64) -> DeviceData:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 4, 4, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return DeviceData("tiny", x, y, x[:16], y[:16], num_classes=3)


def test_make_optimizer_sets_every_hyperparameter() -> None:
    opt = make_optimizer(nn.Linear(2, 2).parameters(), HP)
    group = opt.param_groups[0]
    assert group["lr"] == HP["lr"]
    assert group["betas"] == (HP["beta1"], HP["beta2"])
    assert group["eps"] == HP["eps"]
    assert group["weight_decay"] == HP["weight_decay"]


def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer(nn.Linear(2, 2).parameters(), {"momentum": 0.9})


def test_train_repetition_hands_every_value_to_adam(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class SpyAdam(torch.optim.Adam):
        def __init__(self, params: Any, **kwargs: Any) -> None:
            seen.update(kwargs)
            super().__init__(params, **kwargs)

    monkeypatch.setattr(loop_module.torch.optim, "Adam", SpyAdam)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    train_repetition(model, tiny_data(), HP, epochs=1, batch_size=16, seed=0)
    assert seen == {
        "lr": HP["lr"],
        "betas": (HP["beta1"], HP["beta2"]),
        "eps": HP["eps"],
        "weight_decay": HP["weight_decay"],
        "fused": None,  # on the CPU, torch's default implementation
    }


def test_adam_is_fused_only_where_every_parameter_is_on_a_gpu() -> None:
    cpu = make_optimizer(nn.Linear(2, 2).parameters(), HP)
    assert not cpu.param_groups[0]["fused"]


@pytest.mark.needs_cuda
def test_adam_is_fused_on_a_gpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    gpu = make_optimizer(nn.Linear(2, 2).cuda().parameters(), HP)
    assert gpu.param_groups[0]["fused"] is True


class FirstBatchRecorder(nn.Module):
    """Records the labels' order as seen by the model: one list per forward in training."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 3)
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.batches.append(x[:, 0, 0, 0].clone())
        return self.linear(x.flatten(1))


def test_every_epoch_sees_a_new_order() -> None:
    model = FirstBatchRecorder()
    train_repetition(model, tiny_data(), {}, epochs=3, batch_size=64, seed=0)
    assert len(model.batches) == 3
    assert not torch.equal(model.batches[0], model.batches[1])
    assert not torch.equal(model.batches[1], model.batches[2])
    # each epoch still visits every sample once
    assert torch.equal(model.batches[0].sort().values, model.batches[2].sort().values)


def test_nan_loss_raises_diverged() -> None:
    class NaNNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(16, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.flatten(1)) * float("nan")

    with pytest.raises(DivergedError, match="nan"):
        train_repetition(NaNNet(), tiny_data(), {}, epochs=2, batch_size=16, seed=0)


def test_epochs_are_reported_with_accuracy_and_window() -> None:
    opened: list[int] = []

    class Window:
        def __init__(self, epoch: int) -> None:
            self.epoch = epoch
            self.measurement = f"m{epoch}"

        def __enter__(self) -> Window:
            opened.append(self.epoch)
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    data = tiny_data()
    result = train_repetition(
        model, data, {}, epochs=2, batch_size=16, seed=0, epoch_window=Window
    )
    assert opened == [0, 1]
    assert [e.measurement for e in result.epochs] == ["m0", "m1"]
    assert (
        result.accuracy
        == result.epochs[-1].test_accuracy
        == evaluate(model, data.test_x, data.test_y)
    )
    assert all(e.train_loss > 0 for e in result.epochs)


def test_same_seed_same_result() -> None:
    def once() -> float:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
        return (
            train_repetition(model, tiny_data(), {"lr": 0.01}, epochs=2, batch_size=8, seed=3)
            .epochs[-1]
            .train_loss
        )

    assert once() == once()
