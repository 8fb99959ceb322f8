"""SimpleCNN (thesis §3.3.1, Table 3.2)."""

from __future__ import annotations

import torch
from torch import nn

from green_ai.config.checks import require_choice, require_int
from green_ai.errors import UserError
from green_ai.nets.layers import linear_stack

HEAD_ACTIVATIONS = ("none", "relu")


def head_widths(
    features: int, linear: int, num_classes: int, *, max_width: int | None
) -> list[int]:
    """Output widths of the head's `linear` layers for `features` flattened conv outputs.

    Thesis §3.3.1: every linear layer has half the neurons of the layer before it, starting
    from the flattened conv output. Halving from that output literally gives a conv=1 net on
    28×28 images a 6272→3136 first layer, about 57× the parameters of a conv=4 net: the conv
    factor would mostly measure a bigger head. So the first hidden width is capped at
    `max_width` (None: no cap). The default cap, 128, is what every conv count of Table 3.2
    reaches by halving on FashionMNIST and CIFAR-10 (conv=4 on 28×28 flattens to 256), so the
    head is the same for every conv count but for its input. A hidden layer is never narrower
    than the classes: the halving stops there (7 layers from 128 end 16, 10, 10 → 10).
    """
    require_int("linear", linear, minimum=1)
    if max_width is not None:
        require_int("net.options.max_width", max_width, minimum=1)
    first = features // 2 if max_width is None else min(features // 2, max_width)
    hidden = [max(first // 2**i, num_classes) for i in range(linear - 1)]
    return [*hidden, num_classes]


class SimpleCNN(nn.Module):
    """`conv` blocks Conv2d→BatchNorm2d→[ReLU]→MaxPool2d, then `linear` layers halving in width.

    Block i has ``channels * 2**i`` 3×3 filters (padding 1) and halves the image, so an
    H×W input supports at most floor(log2(min(H, W))) blocks. The head's widths come from
    `head_widths` (halving from the flattened conv output, capped at `max_width`).

    Each factor changes only what it names. `relu` switches the ReLU of every conv block and
    is the only source of ReLU layers by default (`head_activation="none"`), which is how
    Table 3.2 counts them: its ReLU column is the number of conv blocks with a ReLU — 0 or 1
    at conv=1, 0 or 4 at conv=4 — and is the same for 3 and 7 linear layers, so the thesis's
    head had no activation. `head_activation="relu"` puts a ReLU after every hidden linear
    layer as well (linear − 1 more ReLUs, whatever `relu` says); `layer_counts` reports them.
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
        max_width: int | None = 128,
        head_activation: str = "none",
    ) -> None:
        super().__init__()
        require_int("conv", conv, minimum=0)
        require_int("net.options.channels", channels, minimum=1)
        if relu not in (0, 1, True, False):
            raise UserError(f"relu={relu!r} must be 0 (off) or 1 (on)")
        require_choice("net.options.head_activation", head_activation, HEAD_ACTIVATIONS)
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
        features = c * h * w
        widths = head_widths(features, linear, num_classes, max_width=max_width)
        self.head = linear_stack([features, *widths], relu=head_activation == "relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))
