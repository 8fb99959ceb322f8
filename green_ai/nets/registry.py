"""Build a network by its config name (`conf/net/*.yaml`), torchvision-registry style."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from green_ai.errors import UserError
from green_ai.nets.dense import DenseLinearNN, DensePolyNN
from green_ai.nets.simplecnn import SimpleCNN

_NETS: dict[str, type[nn.Module]] = {
    "denselinear": DenseLinearNN,
    "densepoly": DensePolyNN,
    "simplecnn": SimpleCNN,
}
# Arguments that come from the dataset and the layer-count shortcuts, not from net.options.
_NOT_OPTIONS = {"self", "input_shape", "num_classes", "conv", "linear", "relu"}


def list_nets() -> list[str]:
    return sorted(_NETS)


def net_options(name: str) -> list[str]:
    """The `net.options` keys that net `name` takes."""
    _require_known(name)
    params = inspect.signature(_NETS[name].__init__).parameters
    return [p for p in params if p not in _NOT_OPTIONS]


def build_net(
    name: str,
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    conv: int,
    linear: int,
    relu: bool | int,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Build `name` for the input; layer counts the input cannot support raise UserError.

    The dense networks have no conv blocks: `conv` and `relu` are ignored for them.
    """
    _require_known(name)
    extra = dict(options or {})
    unknown = sorted(set(extra) - set(net_options(name)))
    if unknown:
        known = ", ".join(net_options(name)) or "none"
        raise UserError(
            f"net.options.{unknown[0]} is not an option of net={name} (its options: {known})"
        )
    if name == "simplecnn":
        return SimpleCNN(
            input_shape=input_shape,
            num_classes=num_classes,
            conv=conv,
            linear=linear,
            relu=relu,
            **extra,
        )
    return _NETS[name](input_shape=input_shape, num_classes=num_classes, linear=linear, **extra)


def _require_known(name: str) -> None:
    if name not in _NETS:
        raise UserError(
            f"net={name!r} is not known; use one of {', '.join(list_nets())}, or a net of "
            "your own (or torchvision's) by _target_ (docs/extending.md)"
        )
