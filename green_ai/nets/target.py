"""A researcher's own network, named by `_target_` in a `net` config.

A `net` config may name any callable that returns an ``nn.Module``::

    _target_: my_lab.models.TinyRes
    width: 8

The other keys are its keyword arguments. The dataset adds `num_classes` and `input_shape`
(C, H, W) only when the callable's signature names them: passing unexpected names through
``**kwargs`` breaks builders that forward them to a class that does not take them. The one
exception is torchvision's classifiers (``torchvision.models.list_models()``), whose builders
take `num_classes` through ``**kwargs``; they also answer to their bare registry name
(``_target_: resnet18``).

`check_target_net` is the cheap preflight (imports and signatures, nothing built),
`build_target_net` builds the model and fits its first convolution to the data's channels,
`probe_net` runs one small forward pass so that a net that cannot take the input fails before
a study starts. Every bad input is a one-line `UserError` naming the config key.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch
from torch import nn

from green_ai.errors import UserError

log = logging.getLogger(__name__)

# Arguments that come from the dataset, never from the net config.
DATA_ARGUMENTS = ("num_classes", "input_shape")
_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class _Arguments:
    """What a builder accepts by keyword; `open`: any name (it takes ``**kwargs``)."""

    names: tuple[str, ...]
    required: tuple[str, ...]
    open: bool
    torchvision: bool


def check_target_net(
    target: str, kwargs: Mapping[str, Any], *, searched: Iterable[str] = ()
) -> None:
    """Preflight of a `_target_` net without building it.

    `target` must import and be callable; every key of `kwargs` and every `searched` key (a
    hyperparameter searched with ``target: net``) must be an argument of it, unless it takes
    ``**kwargs``; its required arguments must all be given. For a torchvision classifier the
    keys are checked against the builder and the model class it returns, since the builder
    forwards its ``**kwargs`` there.
    """
    builder = resolve_target(target)
    args = _arguments(builder)
    searched = tuple(searched)  # read twice below; may be a one-shot iterator
    given = [(key, f"net.{key}") for key in kwargs]
    given += [(key, f"net.{key} (searched with target: net)") for key in searched]
    for key, where in given:
        if key in DATA_ARGUMENTS and _receives(args, key):
            raise UserError(f"{where} comes from the dataset; remove it from the net config")
        if not args.open and key not in args.names:
            known = ", ".join(a for a in args.names if a not in DATA_ARGUMENTS) or "none"
            raise UserError(f"{where} is not an argument of {target} (its arguments: {known})")
    supplied = {*kwargs, *searched, *(a for a in DATA_ARGUMENTS if _receives(args, a))}
    for name in args.required:
        if name not in supplied:
            raise UserError(f"net._target_={target} needs the argument {name}: set net.{name}")


def build_target_net(
    target: str,
    kwargs: Mapping[str, Any],
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
) -> nn.Module:
    """Build the net `target` names for inputs of `input_shape` (C, H, W) and `num_classes`.

    `kwargs` go in as keyword arguments; `num_classes` and `input_shape` are added when the
    signature names them (and `num_classes` for torchvision's classifiers). A builder that
    raises or returns something other than an ``nn.Module`` is a `UserError`. When the net's
    first convolution expects another channel count than the data's, it is replaced by one
    taking C channels (logged), or refused in one line where that cannot be done.
    """
    builder = resolve_target(target)
    args = _arguments(builder)
    data = {"num_classes": num_classes, "input_shape": tuple(input_shape)}
    call = dict(kwargs)
    for key, value in data.items():
        if _receives(args, key):
            if key in call:
                raise UserError(f"net.{key} comes from the dataset; remove it from the net config")
            call[key] = value
    try:
        model = builder(**call)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"net._target_={target}: the builder raised {type(exc).__name__}: {_one_line(exc)}"
        ) from exc
    if not isinstance(model, nn.Module):
        raise UserError(
            f"net._target_={target}: returned {_a(type(model).__name__)}, not a torch.nn.Module"
        )
    return adapt_input_channels(model, input_shape[0], name=f"net._target_={target}")


def adapt_input_channels(model: nn.Module, channels: int, *, name: str) -> nn.Module:
    """Fit `model`'s first convolution to inputs of `channels` channels, in place.

    The first Conv2d or Linear layer in registration order is taken as the layer that sees the
    input (the stem, for torchvision's classifiers and for nets written top-down). When it is a
    plain Conv2d expecting another channel count, it is replaced by a freshly initialised one
    with `channels` inputs and otherwise the same settings, and a log line says so. A grouped or
    custom first convolution cannot be swapped that way: `UserError`. A net whose first layer
    is not a Conv2d is left as it is; `probe_net` tells whether it takes the input.
    """
    first = next(
        ((path, m) for path, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)),
        None,
    )
    if first is None:
        return model
    path, conv = first
    if not isinstance(conv, nn.Conv2d):
        return model
    if isinstance(conv, nn.modules.lazy.LazyModuleMixin) or conv.in_channels == channels:
        return model
    why = ""
    if type(conv) is not nn.Conv2d:
        why = f"it is a {type(conv).__name__}, not a plain Conv2d"
    elif conv.groups != 1:
        why = f"it is grouped (groups={conv.groups})"
    if why:
        raise UserError(
            f"{name}: its first convolution ({path}) takes {conv.in_channels} channels, the data "
            f"has {channels}, and {why} so it cannot be swapped; use a net built for "
            f"{channels}-channel inputs"
        )
    weight = conv.weight
    # Conv2d keeps its 2-tuples typed as tuple[int, ...]; they go back in unchanged.
    swapped = nn.Conv2d(
        channels,
        conv.out_channels,
        kernel_size=conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        dilation=conv.dilation,  # type: ignore[arg-type]
        bias=conv.bias is not None,
        padding_mode=conv.padding_mode,
        device=weight.device,
        dtype=weight.dtype,
    )
    parent_path, _, attr = path.rpartition(".")
    setattr(model.get_submodule(parent_path), attr, swapped)
    log.info(
        "%s: its first convolution (%s) took %d channels; the data has %d, so it is now a "
        "freshly initialised %d-channel Conv2d with the same settings",
        name,
        path,
        conv.in_channels,
        channels,
        channels,
    )
    return model


def probe_net(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    *,
    name: str | None = None,
    num_classes: int | None = None,
) -> None:
    """Run one forward pass of a batch of 2 zero images; a failure is a one-line `UserError`.

    Runs under ``torch.no_grad()`` in eval mode (so BatchNorm's running statistics are left
    as they are; the train/eval mode is restored), on the device of the model's parameters,
    i.e. the CPU for a freshly built net. With `num_classes`, the output must be a tensor of
    shape (2, num_classes). `name` names the net in the message (default: its class name).
    """
    label = name or type(model).__name__
    shape = "×".join(str(n) for n in input_shape)
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, *input_shape, device=device, dtype=dtype))
    except Exception as exc:
        raise UserError(
            f"net={label} cannot take {shape} inputs: {type(exc).__name__}: {_one_line(exc)}"
        ) from exc
    finally:
        model.train(was_training)
    if num_classes is None:
        return
    if not isinstance(out, torch.Tensor):
        raise UserError(
            f"net={label} returns {_a(type(out).__name__)} on {shape} inputs, not a tensor of "
            f"{num_classes} class scores per image"
        )
    if tuple(out.shape) != (2, num_classes):
        raise UserError(
            f"net={label} gives outputs of shape {tuple(out.shape)} for 2 {shape} images; "
            f"expected (2, {num_classes}): one score per class"
        )


def resolve_target(target: str) -> Callable[..., Any]:
    """The callable `target` names: a dotted path, or a torchvision classifier's name."""
    if not target or "." not in target:
        builders = _torchvision_classifiers()
        named = {n: b for b, n in builders.items()}
        if target in named:
            return named[target]
        raise UserError(
            f"net._target_={target} is neither a dotted path (package.module.Name) nor a "
            "torchvision classifier (torchvision.models.list_models())"
        )
    obj = _import(target)
    if isinstance(obj, nn.Module):
        raise UserError(
            f"net._target_={target} is an nn.Module instance; name its class or a function "
            "that builds it"
        )
    if not callable(obj):
        raise UserError(
            f"net._target_={target} is {_a(type(obj).__name__)}, not a class or function"
        )
    return obj  # type: ignore[no-any-return]


def _import(target: str) -> Any:
    """Import the longest module prefix of `target`, then walk its attributes.

    A module missing somewhere in the path is reported as Python names it; an error raised
    while importing a module that exists (its own bad import, a syntax error) is reported as
    it is, since that is what the researcher has to fix.
    """
    parts = target.split(".")
    missing: ModuleNotFoundError | None = None
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj: Any = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
                missing = exc
                continue
            raise _not_importable(target, exc) from exc
        except Exception as exc:
            raise _not_importable(target, exc) from exc
        for j, attr in enumerate(parts[i:]):
            try:
                obj = getattr(obj, attr)
            except Exception as exc:
                # Every part but the last was also tried as a module: its absence says more.
                last = i + j == len(parts) - 1
                raise _not_importable(target, exc if last or missing is None else missing) from exc
        return obj
    assert missing is not None  # the loop ran at least once and every try was a missing module
    raise _not_importable(target, missing) from missing


def _not_importable(target: str, exc: BaseException) -> UserError:
    said = _one_line(exc)
    if not isinstance(exc, ImportError | AttributeError):
        said = f"{type(exc).__name__}: {said}"
    return UserError(f"net._target_={target} does not import: {said}")


@cache
def _torchvision_classifiers() -> dict[Callable[..., Any], str]:
    """torchvision's classification builders, builder -> registry name."""
    from torchvision import models

    return {models.get_model_builder(n): n for n in models.list_models(module=models)}


def _arguments(builder: Callable[..., Any]) -> _Arguments:
    is_tv = builder in _torchvision_classifiers()
    try:
        params = inspect.signature(builder).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: nothing to check
        return _Arguments(names=(), required=(), open=True, torchvision=is_tv)
    names = [p.name for p in params if p.kind in _KEYWORD_KINDS]
    required = [p.name for p in params if p.kind in _KEYWORD_KINDS and p.default is p.empty]
    is_open = any(p.kind is p.VAR_KEYWORD for p in params)
    if is_tv and is_open:
        # A torchvision builder forwards **kwargs to the model class it returns; that class's
        # own arguments are the keys it accepts (its required ones the builder supplies).
        model_class = _returned_class(builder)
        if model_class is not None:
            inner = _arguments(model_class)
            names += [n for n in inner.names if n not in names and n not in inner.required]
            is_open = inner.open
    return _Arguments(tuple(names), tuple(required), is_open, is_tv)


def _returned_class(builder: Callable[..., Any]) -> type[nn.Module] | None:
    try:
        returned = inspect.signature(builder, eval_str=True).return_annotation
    except Exception:
        return None
    if inspect.isclass(returned) and issubclass(returned, nn.Module):
        return returned
    return None


def _receives(args: _Arguments, key: str) -> bool:
    """Whether the dataset's `key` goes to the builder: named by it, or a torchvision classifier's
    `num_classes`."""
    return key in args.names or (key == "num_classes" and args.torchvision)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
