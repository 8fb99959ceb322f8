"""The `classify` task (the default): the thesis's training loop (§3.3.1) as a `fit(ctx)`.

Cross-entropy over `ctx.num_epochs` passes of the training data with the `optimizer` group's
optimiser; test accuracy after each epoch (`eval_every_epoch`, else after the last), reported
to the study (its pruner decides on it); returns `{"accuracy": last test accuracy}`.

Data held on the device (the fast path) is batched by slicing one gather per epoch
(green_ai.training.loop.epoch_batches); data that streams comes through a DataLoader
(green_ai.data.StreamData). Both run inside the same epoch windows.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from green_ai.training.loop import DivergedError, epoch_batches, evaluate, train_epoch
from green_ai.training.task import TaskContext


def fit(ctx: TaskContext) -> dict[str, float]:
    model = ctx.model
    source = ctx.data.source
    optimizer = ctx.optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    eval_every_epoch = bool(ctx.options.get("eval_every_epoch", True))
    on_device = source is None or hasattr(source, "train_x")
    generator = torch.Generator(device=ctx.device if on_device else "cpu").manual_seed(ctx.seed)
    accuracy = float("nan")
    model.train()
    for epoch in ctx.epochs():
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
        if on_device:
            x, y = ctx.data.train
            batches = epoch_batches(x, y, ctx.batch_size, generator)
        else:
            batches = source.train_batches(ctx.batch_size, generator)
        try:
            ctx.log(train_loss=train_epoch(model, optimizer, batches, loss_fn, ctx.device))
        except DivergedError as err:
            raise DivergedError(f"{err} in epoch {epoch}") from None
        if eval_every_epoch or epoch == ctx.num_epochs - 1:
            accuracy = held_out_accuracy(ctx, on_device)
            ctx.report(accuracy)
    return {"accuracy": accuracy}


def held_out_accuracy(ctx: TaskContext, on_device: bool) -> float:
    """Top-1 accuracy on the test split (eval mode, no gradients)."""
    if on_device:
        x, y = ctx.data.test
        return evaluate(ctx.model, x, y)
    return evaluate_batches(ctx.model, ctx.data.source.test_batches(1024), ctx.device)


@torch.inference_mode()
def evaluate_batches(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device
) -> float:
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=device)
    n = 0
    for xb, yb in batches:
        correct += (model(xb).argmax(dim=1) == yb).sum()
        n += len(yb)
    model.train(was_training)
    return float(correct.item()) / max(n, 1)
