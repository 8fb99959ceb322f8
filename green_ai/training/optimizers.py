"""The `optimizer` group: any `torch.optim` class (or callable taking the parameters first),
with its fixed keyword arguments from YAML and this round's searched values from `hparams`.

Every searched value must reach the optimiser: the thesis testbed read β2 from the wrong
dictionary and silently trained with the default (SPEC "Known defects"). So each searched key
is checked against the optimiser's signature before anything runs, and `beta1`/`beta2`
become `betas` for every optimiser that takes `betas` (thesis §3.4.1 names them apart).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from green_ai.errors import UserError

BETAS = ("beta1", "beta2")


class OptimizerSpec(Protocol):
    """The `optimizer` group's settings (green_ai.config.train.OptimizerConfig): read by
    attribute, so training runs where the config's libraries are absent (a bare GPU box)."""

    @property
    def name(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def kwargs(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Optimizer:
    name: str
    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)


# The default of the `optimizer` group (conf/optimizer/adam.yaml): the thesis's Adam.
ADAM = Optimizer(name="adam", target="torch.optim.Adam")


def resolve_callable(target: str, where: str) -> Callable[..., Any]:
    """The callable at the dotted path `target`; one line naming `where` when it is not."""
    module_name, _, attr = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except ImportError as err:
        raise UserError(f"{where}={target} does not import: {err}") from None
    except AttributeError:
        raise UserError(f"{where}={target} does not import: {module_name} has no {attr}") from None
    if not callable(obj):
        raise UserError(f"{where}={target} is a {type(obj).__name__}, not a callable")
    return obj  # type: ignore[no-any-return]


def accepted_arguments(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    """`fn`'s keyword-argument names and whether it takes **kwargs."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return [], True
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return [n for n in names if n != "self"], any(p.kind == p.VAR_KEYWORD for p in params)


def check_optimizer(spec: OptimizerSpec, searched: Iterable[str]) -> None:
    """Preflight: the optimiser imports and takes every fixed and searched argument."""
    cls = resolve_callable(spec.target, "optimizer._target_")
    names, any_kwargs = accepted_arguments(cls)
    if any_kwargs:
        return
    known = [n for n in names if n != "params"]
    for key, where in [(k, f"optimizer.{k}") for k in spec.kwargs] + [
        (k, f"hparams.params.{k}") for k in searched
    ]:
        name = "betas" if key in BETAS else key
        if name not in known:
            raise UserError(
                f"{where} is not an argument of {spec.target} (optimizer={spec.name}; its "
                f"arguments: {', '.join(known)}); choose hparams and optimizer that match"
            )


def optimizer_arguments(
    spec: OptimizerSpec, hparams: Mapping[str, Any], cls: Callable[..., Any]
) -> dict[str, Any]:
    """Fixed arguments, then searched ones; beta1/beta2 merged into `betas` (the other one
    keeps the optimiser's own default, or the fixed `betas`)."""
    kwargs = {**spec.kwargs, **{k: v for k, v in hparams.items() if k not in BETAS}}
    if any(k in hparams for k in BETAS):
        default = kwargs.get("betas")
        if default is None:
            parameter = inspect.signature(cls).parameters.get("betas")
            default = parameter.default if parameter is not None else (0.9, 0.999)
        kwargs["betas"] = (
            float(hparams.get("beta1", default[0])),
            float(hparams.get("beta2", default[1])),
        )
    return kwargs


def build_optimizer(
    spec: OptimizerSpec, params: Iterable[nn.Parameter], hparams: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """The optimiser over `params` with this round's `hparams` (those aimed at it)."""
    cls = resolve_callable(spec.target, "optimizer._target_")
    params = list(params)
    kwargs = optimizer_arguments(spec, hparams, cls)
    names, _ = accepted_arguments(cls)
    if isinstance(cls, type) and issubclass(cls, torch.optim.Adam | torch.optim.AdamW):
        names.append("fused")  # a subclass passing **kwargs on still takes it
    # On a GPU, the fused kernel updates every parameter in one launch where the default
    # (foreach) takes several: a small net's step is bound by launches, not arithmetic.
    if "fused" in names and "fused" not in kwargs:
        kwargs["fused"] = (bool(params) and all(p.is_cuda for p in params)) or None
    try:
        optimizer = cls(params, **kwargs)
    except (TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0]
        raise UserError(f"optimizer={spec.name} ({spec.target}) with {kwargs}: {reason}") from None
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise UserError(
            f"optimizer._target_={spec.target} returned a {type(optimizer).__name__}, "
            "not a torch.optim.Optimizer"
        )
    return optimizer
