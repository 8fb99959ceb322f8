"""Shared pieces of the networks: stacks of linear layers and the layer-count check."""

from __future__ import annotations

from torch import nn

from green_ai.config.checks import require_int
from green_ai.errors import UserError


def linear_stack(widths: list[int], *, relu: bool = True) -> nn.Sequential:
    """Linear layers through `widths` (input first, classes last), ReLU between them if `relu`.

    The thesis testbed had no non-linearity between dense layers, so its "deep" dense nets
    were a single linear map (SPEC "Known defects"); the dense nets here keep a ReLU after
    every hidden layer. The SimpleCNN head passes `relu=False` (see `SimpleCNN`).
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if relu and i < len(widths) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def halving_widths(first: int, count: int, num_classes: int, *, what: str) -> list[int]:
    """Output widths of `count` linear layers halving from `first`; the last is the classes.

    Raises a UserError naming the largest count that keeps every hidden layer at least as
    wide as the number of classes.
    """
    require_int(what, count, minimum=1)
    hidden = [first // 2**i for i in range(count - 1)]
    if hidden and hidden[-1] < num_classes:
        limit = 1
        while first // 2 ** (limit - 1) >= num_classes:
            limit += 1
        raise UserError(
            f"{what}={count} is too many: halving from {first} units, at most {limit} "
            f"layers keep every hidden layer at least {num_classes} wide (the classes). "
            f"Use {what}=1..{limit}."
        )
    return [*hidden, num_classes]
