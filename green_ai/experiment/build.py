"""Build a study's pieces from its settings (net, data, task); any `_target_` the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from green_ai.config.train import TrainConfig
from green_ai.data import DeviceData, load_dataset
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.training.optimizers import resolve_callable
from green_ai.training.task import TaskContext, TaskData


def make_net(
    settings: TrainConfig,
    input_shape: tuple[int, ...],
    num_classes: int,
    values: Mapping[str, Any] | None = None,
) -> nn.Module:
    """The study's network for this input, with a round's searched `values` (target: net)
    as keyword arguments; a layer count or argument it cannot take is a UserError."""
    net = settings.net
    searched = dict(values or {})
    if net.is_thesis:
        assert len(input_shape) == 3 and settings.linear is not None
        return build_net(
            net.name,
            input_shape=(int(input_shape[0]), int(input_shape[1]), int(input_shape[2])),
            num_classes=num_classes,
            conv=int(settings.conv or 0),
            linear=settings.linear,
            relu=int(settings.relu or 0),
            options={**net.options, **searched},
        )
    from green_ai.nets import build_target_net

    assert net.target is not None
    return build_target_net(
        net.target,
        {**net.kwargs, **searched},
        input_shape=tuple(int(d) for d in input_shape),  # type: ignore[arg-type]
        num_classes=num_classes,
    )


def load_data(settings: TrainConfig, device: torch.device) -> TaskData:
    """The dataset on `device` where it fits (the fast path), else streamed."""
    cfg = settings.dataset
    if cfg.target is None:
        source: Any = load_dataset(cfg, device, seed=settings.seed)
    else:
        from green_ai.data import load_target_dataset

        loader = cfg.loader
        source = load_target_dataset(
            cfg.target,
            cfg.kwargs,
            name=cfg.name,
            device=device,
            seed=settings.seed,
            num_workers=loader.num_workers,
            pin_memory=loader.pin_memory,
            in_memory=loader.in_memory,
        )
    if isinstance(source, DeviceData):
        train: Any = (source.train_x, source.train_y)
        test: Any = (source.test_x, source.test_y)
    else:
        train, test = source.train, source.test
    return TaskData(
        train=train,
        test=test,
        num_classes=source.num_classes,
        input_shape=tuple(source.input_shape),
        source=source,
    )


class TaskRunner:
    """The `task` group's `fit`, called once per repetition, and what it returned as numbers."""

    def __init__(self, settings: TrainConfig) -> None:
        self.name = settings.task.name
        self.fit = resolve_callable(settings.task.target, "task._target_")
        self.metrics = [o for o in settings.search.objectives if o != "energy"]

    def __call__(self, ctx: TaskContext) -> dict[str, float]:
        return self.numbers(self.fit(ctx), ctx.objective)

    def numbers(self, result: Any, objective: str) -> dict[str, float]:
        """`fit`'s return as {metric: number}: a number is the objective's value; a dict
        keeps its numbers. An objective it lacks stops the study (one line)."""
        if _is_number(result):
            values = {objective: float(result)}
        elif isinstance(result, Mapping):
            values = {str(k): float(v) for k, v in result.items() if _is_number(v)}
        else:
            raise UserError(
                f"task={self.name}: fit returned a {type(result).__name__}; it must return the "
                f"objective's value ({objective}) or a dict holding it"
            )
        missing = [m for m in self.metrics if m not in values]
        if missing:
            returned = ", ".join(values) or "no numbers"
            raise UserError(
                f"task={self.name}: fit returned {returned} but not {missing[0]} "
                f"(search.objectives={self.metrics}); return it, or set search.objectives "
                "(and search.directions) to what fit returns"
            )
        return values


def _is_number(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, int | float) and not isinstance(value, bool)
