"""The task's context: each epoch in its own window, recorded in order; `report` feeds the
pruner and stops the round after recording its epoch; an epoch left open is closed unrecorded."""

from __future__ import annotations

from typing import Any

import optuna
import pytest
import torch
from torch import nn

from green_ai.training.task import EpochRecord, TaskContext, TaskData


class Hooks:
    def __init__(self, prune_at: int | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.prune_at = prune_at

    def begin_epoch(self, epoch: int) -> None:
        self.calls.append(("begin", epoch))

    def end_epoch(self, epoch: int) -> str:
        self.calls.append(("end", epoch))
        return f"m{epoch}"

    def epoch_done(self, record: EpochRecord) -> None:
        self.calls.append(("done", record))

    def report(self, epoch: int, value: float, *, can_prune: bool) -> bool:
        self.calls.append(("report", (epoch, value, can_prune)))
        return can_prune and epoch == self.prune_at


def context(hooks: Hooks, epochs: int = 3, prune_last_epoch: bool = False) -> TaskContext:
    model = nn.Linear(2, 2)
    return TaskContext(
        model=model,
        data=TaskData(train=None, test=None, num_classes=2, input_shape=(2,)),
        optimizer_factory=lambda p: torch.optim.SGD(p, lr=0.1),
        hparams={"lr": 0.1},
        options={},
        num_epochs=epochs,
        batch_size=4,
        seed=0,
        repetition=0,
        round=0,
        device=torch.device("cpu"),
        objective="accuracy",
        hooks=hooks,
        prune_last_epoch=prune_last_epoch,
    )


def test_each_epoch_is_a_window_recorded_with_what_the_task_logged() -> None:
    hooks = Hooks()
    ctx = context(hooks)
    for epoch in ctx.epochs():
        ctx.log(train_loss=1.0 / (epoch + 1))
        ctx.report(0.5 + epoch / 10)
    kinds = [k for k, _ in hooks.calls]
    assert kinds == ["begin", "report", "end", "done"] * 3
    records = [r for k, r in hooks.calls if k == "done"]
    assert [r.epoch for r in records] == [0, 1, 2]
    assert [r.value for r in records] == pytest.approx([0.5, 0.6, 0.7])
    assert records[1].metrics == {"train_loss": 0.5}
    assert [r.measurement for r in records] == ["m0", "m1", "m2"]
    # After the last epoch of the only repetition nothing is left to save by pruning.
    assert [c[2] for k, c in hooks.calls if k == "report"] == [True, True, False]
    assert isinstance(ctx.optimizer(ctx.model.parameters()), torch.optim.SGD)


def test_report_prunes_after_recording_its_epoch() -> None:
    hooks = Hooks(prune_at=1)
    ctx = context(hooks)
    with pytest.raises(optuna.TrialPruned):
        for _ in ctx.epochs():
            ctx.report(0.1)
    assert [k for k, _ in hooks.calls] == ["begin", "report", "end", "done"] * 2
    ctx.end_epoch(record=False)  # what the study does after any exception: nothing left open
    assert len(hooks.calls) == 8


def test_an_epoch_left_open_by_an_error_is_closed_without_a_record() -> None:
    hooks = Hooks()
    ctx = context(hooks)
    with pytest.raises(RuntimeError):
        for _ in ctx.epochs():
            raise RuntimeError("boom")
    ctx.end_epoch(record=False)
    assert [k for k, _ in hooks.calls] == ["begin", "end"]
