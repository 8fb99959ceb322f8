"""A training loop of our own: SGD from the study (`ctx.optimizer`), a cosine learning-rate
schedule, label smoothing searched by the study (`target: task`), validation loss and accuracy
each epoch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader


def batches(
    split: object, batch_size: int, shuffle: bool, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Tensor pairs are sliced; a Dataset goes through a DataLoader."""
    if isinstance(split, tuple):
        x, y = split
        order = (
            torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
            if shuffle
            else torch.arange(len(x))
        )
        order = order.to(x.device)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            yield x[idx], y[idx]
        return
    loader = DataLoader(
        split,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )  # type: ignore[arg-type]
    yield from loader


def fit(ctx) -> dict[str, float]:  # type: ignore[no-untyped-def]
    model = ctx.model
    optimizer = ctx.optimizer(model.parameters())
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=ctx.num_epochs)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=float(ctx.hparams.get("label_smoothing", 0.0)))
    result: dict[str, float] = {}
    for epoch in ctx.epochs():
        model.train()
        total = 0.0
        seen = 0
        for x, y in batches(ctx.data.train, ctx.batch_size, True, ctx.seed + epoch):
            x, y = x.to(ctx.device), y.to(ctx.device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        schedule.step()
        result = evaluate(model, ctx)
        ctx.log(train_loss=total / max(seen, 1), lr=schedule.get_last_lr()[0])
        if ctx.objective in result:  # the value the study optimises; may prune the round
            ctx.report(result[ctx.objective])
    return result


@torch.no_grad()
def evaluate(model: nn.Module, ctx) -> dict[str, float]:  # type: ignore[no-untyped-def]
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for x, y in batches(ctx.data.test, 1024, False, 0):
        x, y = x.to(ctx.device), y.to(ctx.device)
        logits = model(x)
        loss_sum += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return {"accuracy": correct / max(n, 1), "val_loss": loss_sum / max(n, 1)}
