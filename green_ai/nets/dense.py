"""DenseLinearNN and DensePolyNN (thesis §3.3.1)."""

from __future__ import annotations

import math

import torch
from torch import nn

from green_ai.config.checks import require_int
from green_ai.nets.layers import halving_widths, linear_stack


class DenseLinearNN(nn.Module):
    """`linear` layers whose widths shrink linearly from the input size to the classes."""

    def __init__(
        self, *, input_shape: tuple[int, int, int], num_classes: int, linear: int
    ) -> None:
        super().__init__()
        require_int("linear", linear, minimum=1)
        features = math.prod(input_shape)
        widths = [
            round(features - (features - num_classes) * i / linear) for i in range(linear + 1)
        ]
        self.layers = linear_stack(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.flatten(x, 1))


class DensePolyNN(nn.Module):
    """`linear` layers, each half the width of the one before; the last gives the classes."""

    def __init__(
        self, *, input_shape: tuple[int, int, int], num_classes: int, linear: int
    ) -> None:
        super().__init__()
        features = math.prod(input_shape)
        widths = halving_widths(features // 2, linear, num_classes, what="linear")
        self.layers = linear_stack([features, *widths])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.flatten(x, 1))
