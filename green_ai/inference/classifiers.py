"""Image classifiers for the inference study: any torchvision classification builder by name.

Thesis §4.2.1 studies AlexNet, DenseNet, ShuffleNetV2, ViT and ConvNeXt; §4.2.2 promises that
any PyTorch vision model works too. Names and builders come from torchvision's own registry
(`list_models`, `get_model`), so a new torchvision release adds its models here for free.
With `weights=None` the model is randomly initialised: it costs the same compute as the trained
one and needs no network.

Whether an input size suits an architecture is found out on the `meta` device (shapes only, no
memory, no arithmetic), so a too-small `image_size` fails with the smallest size that works
before anything heavy runs.
"""

from __future__ import annotations

import difflib
from functools import cache

import torch
import torchvision.models

from green_ai.config.checks import require_int
from green_ai.devices import resolve_device
from green_ai.errors import UserError

__all__ = ["build_model", "check_image_size", "classification_models", "resolve_device"]

_LARGEST_PROBE = 1024


def classification_models() -> list[str]:
    """Builder names of torchvision's image classifiers (not detection, segmentation, video)."""
    return list(torchvision.models.list_models(module=torchvision.models))


def _check_name(name: str) -> None:
    names = classification_models()
    if name in names:
        return
    close = difflib.get_close_matches(name.lower(), names, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "torchvision lists them all:"
    raise UserError(
        f"model.name={name!r} is not a torchvision classification model; {hint} "
        f"(python -c 'import torchvision; print(torchvision.models.list_models("
        "module=torchvision.models))')"
    )


def _builder_kwargs(name: str, weights: str | None, image_size: int) -> dict[str, object]:
    # Vision transformers fix their input size at construction; random ones may take any
    # multiple of the patch size, pretrained ones only the size they were trained at.
    if name.startswith("vit_") and weights is None:
        return {"image_size": image_size}
    return {}


@cache
def _probe(name: str, weights_given: bool, image_size: int) -> str | None:
    """Why a forward pass of one `image_size` image fails on `name`, or None if it works."""
    kwargs = _builder_kwargs(name, "probe" if weights_given else None, image_size)
    try:
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None, **kwargs)
        model.eval()
        with torch.no_grad():
            model(torch.empty(1, 3, image_size, image_size, device="meta"))
    except Exception as exc:  # any failure means this size does not work; keep the reason
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return None


def check_image_size(name: str, image_size: int, *, weights: str | None = None) -> None:
    """`UserError` unless `image_size` × `image_size` images go through `name`.

    When the size is too small, the message names the smallest that works (binary search over
    shapes on the meta device).
    """
    require_int("image_size", image_size, minimum=1)
    _check_name(name)
    given = weights is not None
    error = _probe(name, given, image_size)
    if error is None:
        return
    if _probe(name, given, _LARGEST_PROBE) is not None:
        raise UserError(f"image_size={image_size} does not work with {name}: {error}")
    lo, hi = 1, _LARGEST_PROBE  # invariant: hi works
    while lo < hi:
        mid = (lo + hi) // 2
        if _probe(name, given, mid) is None:
            hi = mid
        else:
            lo = mid + 1
    if image_size < hi:
        raise UserError(
            f"image_size={image_size} is too small for {name}: the smallest that works is {hi}"
        )
    raise UserError(f"image_size={image_size} does not work with {name}: {error}")


def build_model(
    name: str, *, weights: str | None, image_size: int, device: torch.device
) -> torch.nn.Module:
    """`name` from torchvision in eval mode on `device`; `weights` None = random init."""
    check_image_size(name, image_size, weights=weights)
    kwargs = _builder_kwargs(name, weights, image_size)
    try:
        model = torchvision.models.get_model(name, weights=weights, **kwargs)
    except (ValueError, KeyError) as exc:
        raise UserError(
            f"model.weights={weights!r} is not a weights name of {name} ({exc}); use null for "
            "random initialisation"
        ) from exc
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise UserError(
            f"model.weights={weights!r} could not be loaded ({type(exc).__name__}: {exc}); "
            "without a network use model.weights=null (random init, same compute)"
        ) from exc
    return model.eval().to(device)
