"""SimpleCNN (thesis §3.3.1, Table 3.2)."""

from __future__ import annotations

import torch
from torch import nn

from green_ai.errors import UserError
from green_ai.nets.layers import check_count, halving_widths, linear_stack


class SimpleCNN(nn.Module):
    """`conv` blocks Conv2d→BatchNorm2d→[ReLU]→MaxPool2d, then `linear` layers halving in width.

    Block i has ``channels * 2**i`` 3×3 filters (padding 1) and halves the image, so an
    H×W input supports at most floor(log2(min(H, W))) blocks. `relu` switches the blocks'
    ReLU (the factor of Table 3.2); the linear head keeps its ReLUs. The head starts at
    `hidden` units so that even `linear=7` (Table 3.2) stays wider than the classes.
    """

    def __init__(
        self,
        *,
        input_shape: tuple[int, int, int],
        num_classes: int,
        conv: int,
        linear: int,
        relu: bool | int,
        channels: int = 32,
        hidden: int = 512,
    ) -> None:
        super().__init__()
        check_count("conv", conv, minimum=0)
        if relu not in (0, 1, True, False):
            raise UserError(f"relu={relu!r} must be 0 (off) or 1 (on)")
        c, h, w = input_shape
        max_conv = min(h, w).bit_length() - 1
        if conv > max_conv:
            raise UserError(
                f"conv={conv} is too many for {h}×{w} input: each conv block halves the image "
                f"(MaxPool2d(2)), so at most {max_conv} fit. Use conv=0..{max_conv}."
            )
        blocks: list[nn.Module] = []
        for i in range(conv):
            out = channels * 2**i
            blocks += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.BatchNorm2d(out)]
            if relu:
                blocks.append(nn.ReLU(inplace=True))
            blocks.append(nn.MaxPool2d(2))
            c, h, w = out, h // 2, w // 2
        self.features = nn.Sequential(*blocks)
        widths = halving_widths(hidden, linear, num_classes, what="linear")
        self.head = linear_stack([c * h * w, *widths])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))
