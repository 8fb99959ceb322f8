"""Blobs: each class is a bright square at its own place on a noisy image (learnable in an
epoch or two, no files needed)."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset


def blobs(
    n_train: int = 512,
    n_test: int = 256,
    size: int = 16,
    classes: int = 4,
    noise: float = 0.6,
    as_dataset: bool = False,
    seed: int = 0,
) -> tuple[object, object, int]:
    """`(train, test, num_classes)`: tensor pairs `(x, y)`, or `TensorDataset`s with
    `as_dataset` (green_ai then holds them on the device if they fit, else streams them)."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, classes, (n,), generator=g)
        x = noise * torch.randn(n, 3, size, size, generator=g)
        half = size // 2
        for c in range(classes):
            row, col = divmod(c, 2)
            x[
                y == c, :, row * half : row * half + half // 2, col * half : col * half + half // 2
            ] += 1.0
        return x, y

    train, test = split(n_train), split(n_test)
    if as_dataset:
        return TensorDataset(*train), TensorDataset(*test), classes
    return train, test, classes
