"""What a built network actually contains, for logging next to the factors that asked for it."""

from __future__ import annotations

from torch import nn


def layer_counts(model: nn.Module) -> dict[str, int]:
    """Conv, linear and ReLU layers and the parameter count of `model`.

    Counted from the modules themselves, not from the config, so a study can log what the
    factors of Table 3.2 produced (`relu=0` must give ``relu_layers == 0``). Keys:
    `conv_layers` (any nn.Conv1d/2d/3d), `linear_layers`, `relu_layers` (nn.ReLU modules) and
    `parameters` (trainable and frozen parameter elements; BatchNorm's running statistics are
    buffers and not counted).
    """
    modules = list(model.modules())
    return {
        "conv_layers": sum(isinstance(m, nn.modules.conv._ConvNd) for m in modules),
        "linear_layers": sum(isinstance(m, nn.Linear) for m in modules),
        "relu_layers": sum(isinstance(m, nn.ReLU) for m in modules),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
