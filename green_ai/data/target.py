"""A researcher's own dataset: `dataset._target_` names a function that builds it.

```yaml
_target_: my_lab.data.blobs
n: 512
loader: {num_workers: 0, pin_memory: false, in_memory: null}
```

The function is called with the node's other keys (and `seed=` when it takes a `seed` the
node does not set) and returns `(train, test, num_classes)`; `train` and `test` are each a
pair of tensors `(x, y)` or a map-style `torch.utils.data.Dataset` of `(x, y)` items. Its
data is used as returned: inputs become float32, labels int64, nothing is standardised.

What fits the device is copied onto it once (`DeviceData`, the fast path of the thesis's
datasets); a dataset too large for it, or whose items differ in shape, is read batch by batch
through a DataLoader (`StreamData`). `check_target_dataset` only imports the function and reads
its signature: a launcher checks every job of a sweep without loading anything.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from green_ai.data.loading import DeviceData
from green_ai.data.streaming import (
    BadItem,
    MixedShapes,
    StreamData,
    integral_tensor,
    item_problem,
    real_tensor,
)
from green_ai.errors import UserError

log = logging.getLogger("green_ai")

# Items read per step while a Dataset is copied onto the device.
_CHUNK = 1024
_X_BYTES = 4  # float32 inputs
_Y_BYTES = 8  # int64 labels
_EXPECTED = "expected (train, test, num_classes)"
_SPLIT_EXPECTED = "expected a pair of tensors (x, y) or a torch.utils.data.Dataset"


def check_target_dataset(target: str, kwargs: Mapping[str, Any]) -> None:
    """Raise UserError unless `target` imports, is callable and accepts `kwargs`.

    Cheap: nothing is called, so no data is read.
    """
    _check_arguments(target, _locate(target), kwargs)


def load_target_dataset(
    target: str,
    kwargs: Mapping[str, Any],
    *,
    name: str,
    device: torch.device,
    seed: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    in_memory: bool | None = None,
) -> DeviceData | StreamData:
    """Call `target(**kwargs)` and put what it returns on `device` or behind a DataLoader.

    `in_memory`: None copies the data onto the device when every input has one shape and the
    whole fits a budget (`memory_budget`); True requires that (else UserError); False always
    streams.
    """
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise UserError(f"dataset.loader.num_workers={num_workers!r} must be an integer >= 0")
    train, test, num_classes = _call(target, kwargs, seed)
    shapes = (_first_shape(train), _first_shape(test))
    one_shape = shapes[0] == shapes[1]
    stream = StreamSettings(name, device, num_workers, pin_memory)
    if in_memory is False:
        return stream.build(_as_dataset(train), _as_dataset(test), num_classes)
    size = (_size(train) + _size(test)) * (math.prod(shapes[0]) * _X_BYTES + _Y_BYTES)
    budget, what = memory_budget(device)
    fits = size <= budget
    if in_memory is True and not fits:
        raise UserError(
            f"dataset.loader.in_memory=true but dataset {name} needs {_bytes(size)} and the "
            f"budget is {_bytes(budget)} ({what}); set dataset.loader.in_memory=null to stream it"
        )
    if not (fits and one_shape):
        if in_memory is True:
            raise _mixed_shapes(name, shapes)
        log.info(
            "dataset %s streams through a DataLoader (%s)",
            name,
            f"{_bytes(size)} > {_bytes(budget)}, {what}"
            if one_shape
            else "inputs differ in shape",
        )
        return stream.build(_as_dataset(train), _as_dataset(test), num_classes)

    tensors: list[torch.Tensor] = []
    for split, value in (("train", train), ("test", test)):
        copied = _materialise(target, split, value, shapes[0], device, num_workers)
        if isinstance(copied, MixedShapes):
            if in_memory is True:
                raise _mixed_shapes(name, copied.shapes)
            log.info("dataset %s streams through a DataLoader (inputs differ in shape)", name)
            return stream.build(_as_dataset(train), _as_dataset(test), num_classes)
        if not isinstance(value, tuple):  # a tensor pair's labels were checked above
            _check_labels(target, split, copied[1], num_classes)
        tensors.extend(copied)
    train_x, train_y, test_x, test_y = tensors
    return DeviceData(name, train_x, train_y, test_x, test_y, num_classes)


def _call(target: str, kwargs: Mapping[str, Any], seed: int) -> tuple[Split, Split, int]:
    """Call the user's function (with `seed` where it names one) and check what it returned:
    tensor pairs of one input shape whose labels are classes."""
    function = _locate(target)
    arguments = dict(kwargs)
    if _check_arguments(target, function, kwargs) and "seed" not in arguments:
        arguments["seed"] = seed
    train, test, num_classes = _check_return(target, function(**arguments))
    shapes = (_first_shape(train), _first_shape(test))
    if isinstance(train, tuple) and isinstance(test, tuple) and shapes[0] != shapes[1]:
        raise UserError(
            f"dataset._target_={target} returned train inputs of shape {shapes[0]} but "
            f"test inputs of shape {shapes[1]}; expected one input shape for both"
        )
    for split, value in (("train", train), ("test", test)):
        if isinstance(value, tuple):
            _check_labels(target, split, value[1], num_classes)
    return train, test, num_classes


def memory_budget(device: torch.device) -> tuple[int, str]:
    """Bytes a dataset may take on `device` and where that figure comes from.

    The rest is left to the network, its activations and the optimiser.
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2, f"half the free memory of {device}"
    return available_ram() // 4, "a quarter of the available RAM"


def available_ram() -> int:
    """Bytes of RAM available without swapping (Linux's MemAvailable; else the free pages)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class StreamSettings:
    """How a streamed dataset is read (`dataset.loader`) and where its batches go."""

    name: str
    device: torch.device
    num_workers: int
    pin_memory: bool

    def build(self, train: Dataset[Any], test: Dataset[Any], num_classes: int) -> StreamData:
        return StreamData(
            name=self.name,
            train=train,
            test=test,
            num_classes=num_classes,
            input_shape=_first_shape(train),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            device=self.device,
        )


# -- the function ---------------------------------------------------------------------------


def _locate(target: str) -> Callable[..., Any]:
    """The object `target` names: the longest importable module prefix, then attributes."""
    parts = str(target).split(".")
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise UserError(
            f"dataset._target_={target} is not a dotted path to a function (like my_lab.data.load)"
        )
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            found: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if module_name == missing or module_name.startswith(missing + "."):
                continue  # this prefix is not a module: try a shorter one
            raise _no_import(target, error) from error
        except Exception as error:  # the module itself fails while it is imported
            raise _no_import(target, error) from error
        break
    else:
        raise UserError(
            f"dataset._target_={target} does not import: no module named {parts[0]} "
            "(install its package or add its directory to PYTHONPATH)"
        )
    for depth, attribute in enumerate(parts[cut:], start=cut):
        if not hasattr(found, attribute):
            owner = ".".join(parts[:depth])
            raise UserError(
                f"dataset._target_={target} does not import: {owner} has no {attribute}"
            )
        found = getattr(found, attribute)
    if not callable(found):
        raise UserError(
            f"dataset._target_={target} is not a function (it is a {type(found).__name__})"
        )
    return found  # type: ignore[no-any-return]


def _no_import(target: str, error: BaseException) -> UserError:
    reason = str(error).splitlines()[0] if str(error) else ""
    return UserError(
        f"dataset._target_={target} does not import: {type(error).__name__}: {reason}"
    )


def _check_arguments(target: str, function: Callable[..., Any], kwargs: Mapping[str, Any]) -> bool:
    """UserError for a key the function does not take or an argument it needs but is not set.

    Returns whether the function takes a `seed` argument by that name.
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): the call will tell
        return False
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = [p.name for p in parameters.values() if p.kind in kinds]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for key in kwargs:
        if key not in named and not takes_any:
            raise UserError(
                f"dataset.{key} is not an argument of {target} "
                f"(its arguments: {', '.join(named) or 'none'})"
            )
    for p in parameters.values():
        if p.default is not inspect.Parameter.empty or p.name in kwargs or p.name == "seed":
            continue
        if p.kind in kinds:
            raise UserError(
                f"dataset.{p.name} is not set; {target} needs it: set dataset.{p.name}"
            )
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise UserError(
                f"dataset._target_={target} needs positional-only argument {p.name}, which a "
                "config cannot pass: give it a default or make it a keyword argument"
            )
    return "seed" in named


# -- what it returns ------------------------------------------------------------------------

Split = tuple[torch.Tensor, torch.Tensor] | Dataset[Any]


def _check_return(target: str, returned: Any) -> tuple[Split, Split, int]:
    where = f"dataset._target_={target} returned"
    if not isinstance(returned, tuple):
        raise UserError(f"{where} a {type(returned).__name__}; {_EXPECTED}")
    if len(returned) != 3:
        raise UserError(f"{where} a tuple of {len(returned)} items; {_EXPECTED}")
    train, test, num_classes = returned
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, Integral)
        or int(num_classes) < 2
    ):
        raise UserError(f"{where} num_classes={num_classes!r}; expected an integer of at least 2")
    return _check_split(where, "train", train), _check_split(where, "test", test), int(num_classes)


def _check_split(where: str, split: str, value: Any) -> Split:
    if isinstance(value, IterableDataset):
        raise UserError(
            f"{where} an IterableDataset as {split}; expected a map-style Dataset "
            "(__len__ and __getitem__), which can be shuffled"
        )
    if isinstance(value, Dataset):
        return _check_dataset(where, split, value)
    if not (isinstance(value, tuple | list) and len(value) == 2):
        raise UserError(f"{where} {split} as a {type(value).__name__}; {_SPLIT_EXPECTED}")
    x, y = value
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        kinds = f"({type(x).__name__}, {type(y).__name__})"
        raise UserError(
            f"{where} {split} as {kinds}; {_SPLIT_EXPECTED} (torch.as_tensor converts arrays)"
        )
    if x.dim() < 2 or not real_tensor(x):
        raise UserError(
            f"{where} {split} x of shape {tuple(x.shape)} and dtype {x.dtype}; expected "
            "real numbers, one row per sample: (N, ...)"
        )
    if y.dim() != 1 or not integral_tensor(y):
        raise UserError(
            f"{where} {split} y of shape {tuple(y.shape)} and dtype {y.dtype}; expected "
            "integer class labels of shape (N,)"
        )
    if len(x) != len(y):
        raise UserError(
            f"{where} {split} x with {len(x)} samples but y with {len(y)}; expected one label "
            "per sample"
        )
    if len(x) == 0:
        raise UserError(f"{where} an empty {split} split; expected at least one sample")
    return x, y


def _check_dataset(where: str, split: str, dataset: Dataset[Any]) -> Dataset[Any]:
    try:
        size = len(dataset)  # type: ignore[arg-type]
    except TypeError:
        raise UserError(
            f"{where} {split} as a Dataset without __len__; expected a map-style Dataset"
        ) from None
    if size == 0:
        raise UserError(f"{where} an empty {split} split; expected at least one sample")
    problem = item_problem(dataset[0])
    if problem:
        raise UserError(f"{where} a {split} Dataset whose item 0 is {problem}")
    return dataset


def _check_labels(target: str, split: str, y: torch.Tensor, num_classes: int) -> None:
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise UserError(
            f"dataset._target_={target} returned {split} labels in {low}..{high}; expected "
            f"0..{num_classes - 1} (num_classes={num_classes})"
        )


# -- shapes, sizes, copies ------------------------------------------------------------------


def _sample_shape(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape[1:])


def _first_shape(split: Split) -> tuple[int, ...]:
    if isinstance(split, tuple):
        return _sample_shape(split[0])
    return tuple(int(d) for d in split[0][0].shape)


def _size(split: Split) -> int:
    return len(split[0]) if isinstance(split, tuple) else len(split)  # type: ignore[arg-type]


def _as_dataset(split: Split) -> Dataset[Any]:
    """A split as a Dataset on the CPU, where a DataLoader's workers can read it."""
    if isinstance(split, tuple):
        return TensorDataset(split[0].cpu(), split[1].cpu())
    return split


def _bytes(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _mixed_shapes(name: str, shapes: Sequence[tuple[int, ...]]) -> UserError:
    listed = ", ".join(str(s) for s in shapes[:3])
    return UserError(
        f"dataset.loader.in_memory=true but dataset {name} has inputs of shapes {listed}; "
        "set dataset.loader.in_memory=null to stream them"
    )


class _Stack:
    """Collate a chunk of Dataset items into (x, y), or report that their shapes differ.

    A class, not a closure: worker processes may need to pickle it.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __call__(
        self, items: Sequence[Any]
    ) -> tuple[torch.Tensor, torch.Tensor] | MixedShapes | BadItem:
        for item in items:
            problem = item_problem(item)
            if problem:
                return BadItem(problem)
            if tuple(item[0].shape) != self.shape:
                return MixedShapes((self.shape, tuple(item[0].shape)))
        x = torch.stack([item[0] for item in items]).to(torch.float32)
        y = torch.tensor([int(item[1]) for item in items], dtype=torch.int64)
        return x, y


def _materialise(
    target: str,
    name: str,
    split: Split,
    shape: tuple[int, ...],
    device: torch.device,
    num_workers: int,
) -> tuple[torch.Tensor, torch.Tensor] | MixedShapes:
    """Split `name` as float32 inputs and int64 labels on `device`, or the shapes that
    stop it."""
    if isinstance(split, tuple):
        x, y = split
        return x.to(device, torch.float32).contiguous(), y.to(device, torch.int64)
    n = len(split)  # type: ignore[arg-type]
    xs = torch.empty((n, *shape), dtype=torch.float32, device=device)
    ys = torch.empty(n, dtype=torch.int64, device=device)
    # Read in chunks, each copied straight to its place: the host holds one chunk at a time.
    loader = DataLoader(
        split, batch_size=_CHUNK, num_workers=num_workers, collate_fn=_Stack(shape)
    )
    done = 0
    for chunk in loader:
        if isinstance(chunk, BadItem):
            raise UserError(
                f"dataset._target_={target} returned a {name} Dataset with an item that is "
                f"{chunk.problem}"
            )
        if isinstance(chunk, MixedShapes):
            return chunk
        x, y = chunk
        xs[done : done + len(x)] = x
        ys[done : done + len(y)] = y
        done += len(x)
    return xs, ys


__all__ = [
    "StreamSettings",
    "available_ram",
    "check_target_dataset",
    "load_target_dataset",
    "memory_budget",
]
