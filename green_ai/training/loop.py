"""The pieces of a classification repetition: an epoch's batches, an epoch of training, test
accuracy; `train_repetition` puts them together with Adam (the `classify` task does the same
inside a study, green_ai.training.classify).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from green_ai.data import DeviceData

# Adam's defaults, used for any value the search space does not tune (thesis §3.4.1).
ADAM_DEFAULTS: dict[str, float] = {
    "lr": 1e-3,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "weight_decay": 0.0,
}


# Test images per forward pass in `evaluate` (no gradients: larger batches than training).
EVAL_BATCH_SIZE = 1024


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass(frozen=True)
class EpochResult:
    epoch: int
    train_loss: float
    test_accuracy: float | None
    duration_s: float
    measurement: Any = None  # green_ai.energy.Measurement of the epoch, when metered


@dataclass
class RepetitionResult:
    accuracy: float
    duration_s: float
    epochs: list[EpochResult] = field(default_factory=list)


def configure_device(device: torch.device) -> None:
    """Process-wide settings for fast training on `device`.

    On the CPU, denormal floats (tiny gradients late in backward) take a slow path in the
    kernels; flushing them to zero made a SimpleCNN step 10-17% faster in our benchmark at no
    cost to accuracy (docs/benchmarks.md).
    """
    if device.type == "cpu":
        torch.set_flush_denormal(True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(
    params: Iterable[nn.Parameter], hparams: Mapping[str, float]
) -> torch.optim.Optimizer:
    """Adam (the `optimizer` group's default) with α, β1, β2, ε and weight decay taken from
    `hparams` (PyTorch's defaults, ADAM_DEFAULTS, for the rest)."""
    from green_ai.training.optimizers import ADAM, build_optimizer

    unknown = set(hparams) - set(ADAM_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown Adam hyperparameters {sorted(unknown)}; known: {list(ADAM_DEFAULTS)}"
        )
    return build_optimizer(ADAM, params, hparams)


@torch.inference_mode()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE
) -> float:
    """Top-1 accuracy of `model` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for start in range(0, len(x), batch_size):
        logits = model(x[start : start + batch_size])
        correct += (logits.argmax(dim=1) == y[start : start + batch_size]).sum()
    model.train(was_training)
    return float(correct.item()) / max(len(x), 1)


def epoch_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (x, y) in a fresh random order (the thesis testbed saw the same order every
    epoch, SPEC "Known defects"). One gather per epoch, then each batch is a view: a per-batch
    gather costs two extra kernel launches per step, which is what bounds a small net on a GPU."""
    order = torch.randperm(len(x), device=x.device, generator=generator)
    xs, ys = x[order], y[order]
    del order
    for start in range(0, len(xs), batch_size):
        yield xs[start : start + batch_size], ys[start : start + batch_size]


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    device: torch.device,
) -> float:
    """One pass of `optimizer` over `batches`; the mean training loss. The loss is summed on
    the device and read once: a per-batch `.item()` would stall a GPU at every step. Raises
    `DivergedError` when it is NaN or infinite."""
    loss_sum = torch.zeros((), device=device)
    n = 0
    for xb, yb in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        loss_sum.add_(loss.detach(), alpha=len(xb))
        n += len(xb)
    train_loss = float(loss_sum.item()) / max(n, 1)
    if not math.isfinite(train_loss):
        raise DivergedError(f"training loss became {train_loss}")
    return train_loss


def train_repetition(
    model: nn.Module,
    data: DeviceData,
    hparams: Mapping[str, float],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    eval_every_epoch: bool = True,
    epoch_window: Callable[[int], AbstractContextManager[Any]] | None = None,
    on_epoch: Callable[[EpochResult], None] | None = None,
) -> RepetitionResult:
    """Train `model` (already on the data's device) with Adam and return its test accuracy:
    the `classify` task's loop (green_ai.training.classify) without a study around it.

    `epoch_window(epoch)` wraps each epoch (the energy meter's window; its handle's
    `.measurement` is attached to the epoch's result). Raises `DivergedError` on a NaN/inf loss.
    """
    device = data.train_x.device
    generator = torch.Generator(device=device).manual_seed(seed)
    optimizer = make_optimizer(model.parameters(), hparams)
    loss_fn = nn.CrossEntropyLoss()
    result = RepetitionResult(accuracy=float("nan"), duration_s=0.0)
    started = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        epoch_started = time.perf_counter()
        with epoch_window(epoch) if epoch_window else nullcontext() as handle:
            batches = epoch_batches(data.train_x, data.train_y, batch_size, generator)
            try:
                train_loss = train_epoch(model, optimizer, batches, loss_fn, device)
            except DivergedError as err:
                raise DivergedError(f"{err} in epoch {epoch}") from None
            last = epoch == epochs - 1
            evaluated = eval_every_epoch or last
            accuracy = evaluate(model, data.test_x, data.test_y) if evaluated else None
        epoch_result = EpochResult(
            epoch=epoch,
            train_loss=train_loss,
            test_accuracy=accuracy,
            duration_s=time.perf_counter() - epoch_started,
            measurement=getattr(handle, "measurement", None),
        )
        result.epochs.append(epoch_result)
        if on_epoch:
            on_epoch(epoch_result)
    result.duration_s = time.perf_counter() - started
    final = result.epochs[-1].test_accuracy if result.epochs else None
    result.accuracy = float("nan") if final is None else final
    return result
