"""What a training task sees: `fit(ctx)` is called once per repetition, inside its energy window.

A task is the training loop of one repetition (thesis §3.3.1: a round trains `repetitions`
times with the same hyperparameters). green_ai's own, `classify` (green_ai.training.classify),
is one; a researcher's is a file in the `task` group naming theirs:

    def fit(ctx):
        opt = ctx.optimizer(ctx.model.parameters())
        for epoch in ctx.epochs():            # each epoch is its own energy window
            loss = train_one_epoch(ctx.model, ctx.data.train, opt)
            ctx.report(evaluate(ctx.model, ctx.data.test))   # may stop a pruned round
        return {"accuracy": ..., "val_loss": ...}

`fit` returns the objective's value, or a dict holding it (every number in it is logged on the
round). Seeds are set before `fit` as for green_ai's loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
import torch
from torch import nn


@dataclass(frozen=True)
class TaskData:
    """The data as the dataset returned it: `train` and `test` are each a pair of tensors
    `(x, y)` (on `ctx.device` when they fit it) or a `torch.utils.data.Dataset`."""

    train: Any
    test: Any
    num_classes: int
    input_shape: tuple[int, ...]
    # green_ai.data.DeviceData or StreamData: batches for green_ai's own loop.
    source: Any = None


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of one repetition as the task reported it, with the joules of its window."""

    epoch: int
    duration_s: float
    value: float | None  # what `ctx.report` got (the objective's value), if anything
    metrics: dict[str, float] = field(default_factory=dict)  # `ctx.log`
    measurement: Any = None  # green_ai.energy.Measurement, when metered


class TaskHooks(Protocol):
    """What the study gives a task's context: energy windows, records, pruning."""

    def begin_epoch(self, epoch: int) -> None: ...

    def end_epoch(self, epoch: int) -> Any: ...

    def epoch_done(self, record: EpochRecord) -> None: ...

    def report(self, epoch: int, value: float, *, can_prune: bool) -> bool:
        """Record the epoch's value; True when the round is to be pruned (`can_prune`)."""
        ...


class TaskContext:
    """The documented surface of a task (see the module docstring).

    Attributes: `model` (built from `net` with this round's values, on `device`), `data`
    (TaskData), `hparams` (this round's searched values, every target), `options` (the task
    file's other keys), `num_epochs`, `batch_size`, `seed`, `repetition`, `round`, `device`,
    `objective` (the metric the study optimises first).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        data: TaskData,
        optimizer_factory: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        hparams: Mapping[str, Any],
        options: Mapping[str, Any],
        num_epochs: int,
        batch_size: int,
        seed: int,
        repetition: int,
        round: int,  # noqa: A002 - the documented name
        device: torch.device,
        objective: str,
        hooks: TaskHooks | None = None,
        prune_last_epoch: bool = True,
    ) -> None:
        self.model = model
        self.data = data
        self._optimizer_factory = optimizer_factory
        self.hparams = dict(hparams)
        self.options = dict(options)
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.seed = seed
        self.repetition = repetition
        self.round = round
        self.device = device
        self.objective = objective
        self._hooks = hooks
        # After the last epoch of the only repetition nothing is left to save by pruning.
        self._prune_last_epoch = prune_last_epoch
        self._epoch: int | None = None  # the epoch whose window is open
        self._started = 0.0
        self._value: float | None = None
        self._metrics: dict[str, float] = {}
        self.reported: list[float] = []  # every value `report` got, in order

    def optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The `optimizer` group's optimizer over `params`, with this round's values."""
        return self._optimizer_factory(params)

    def epochs(self) -> Iterator[int]:
        """`range(num_epochs)`, each epoch inside its own energy window."""
        for epoch in range(self.num_epochs):
            self._begin(epoch)
            yield epoch
            self.end_epoch()

    def log(self, **metrics: float) -> None:
        """Numbers of this epoch to log next to its joules (e.g. `train_loss=0.3`); name them
        apart from what `fit` returns (those are the round's, step 0)."""
        self._metrics.update({k: float(v) for k, v in metrics.items()})

    def report(self, value: float) -> None:
        """The epoch's value of the objective: an intermediate value of the round (what
        pruners decide on). Raises Optuna's `TrialPruned` when `search.pruner` stops the
        round; the epoch's window is closed and recorded first."""
        value = float(value)
        self._value = value
        self.reported.append(value)
        epoch = self._epoch if self._epoch is not None else len(self.reported) - 1
        can_prune = epoch < self.num_epochs - 1 or self._prune_last_epoch
        if self._hooks is not None and self._hooks.report(epoch, value, can_prune=can_prune):
            self.end_epoch()
            raise optuna.TrialPruned(f"pruned after epoch {epoch}")

    def _begin(self, epoch: int) -> None:
        self._epoch = epoch
        self._value = None
        self._metrics = {}
        self._started = time.perf_counter()
        if self._hooks is not None:
            self._hooks.begin_epoch(epoch)

    def end_epoch(self, *, record: bool = True) -> None:
        """Close the open epoch's window and, with `record`, record it (the study closes an
        epoch that a task left open by raising, unrecorded: it did not finish)."""
        epoch, self._epoch = self._epoch, None
        if epoch is None:
            return
        measurement = self._hooks.end_epoch(epoch) if self._hooks is not None else None
        if not record:
            return
        done = EpochRecord(
            epoch=epoch,
            duration_s=time.perf_counter() - self._started,
            value=self._value,
            metrics=dict(self._metrics),
            measurement=measurement,
        )
        if self._hooks is not None:
            self._hooks.epoch_done(done)
