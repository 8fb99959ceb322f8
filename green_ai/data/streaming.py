"""A dataset read batch by batch through a `DataLoader`, for data that stays off the device.

A user's dataset (`green_ai.data.target`) that does not fit the device's memory, or whose
items differ in shape, is kept as the `Dataset` its callable returned; each epoch reads it
through a `DataLoader` (`dataset.loader.num_workers`, `pin_memory`) and moves every batch to
the training device.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torch.utils.data.dataloader import default_collate

from green_ai.errors import UserError

# Seeds drawn from the caller's generator lie in [0, 2**62): any int64 fits, and the range
# is the same whatever device the generator lives on.
_SEED_RANGE = 2**62


@dataclass(frozen=True)
class StreamData:
    """Train and test `Dataset`s of `(x, y)` items, read in batches moved to `device`."""

    name: str
    train: Dataset[Any]
    test: Dataset[Any]
    num_classes: int
    input_shape: tuple[int, ...]  # the first train item's x shape
    num_workers: int
    pin_memory: bool
    device: torch.device
    # One DataLoader per (split, batch size): with workers, they persist across epochs
    # instead of being forked again inside every epoch's energy window.
    _loaders: dict[tuple[str, int], _Loader] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.input_shape

    @property
    def train_size(self) -> int:
        return len(self.train)  # type: ignore[arg-type]

    @property
    def test_size(self) -> int:
        return len(self.test)  # type: ignore[arg-type]

    def train_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch in an order drawn from `generator`; each item is read once.

        A DataLoader shuffles with a CPU generator: the order is drawn from one seeded by
        `generator` (on any device), so the same generator state gives the same epoch and
        successive epochs differ.
        """
        loader = self._loader("train", batch_size)
        seed = int(torch.randint(_SEED_RANGE, (), generator=generator, device=generator.device))
        loader.shuffle.manual_seed(seed)
        loader.workers.manual_seed(seed)
        yield from self._to_device(loader.loader)

    def test_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The test split in order."""
        yield from self._to_device(self._loader("test", batch_size).loader)

    def close(self) -> None:
        """Stop the worker processes (they also stop when this object is dropped)."""
        self._loaders.clear()

    def _to_device(self, loader: DataLoader[Any]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        non_blocking = self._pinned
        for batch in loader:
            if isinstance(batch, BadItem):
                raise UserError(f"dataset {self.name} has an item that is {batch.problem}")
            if isinstance(batch, MixedShapes):
                listed = ", ".join(str(s) for s in batch.shapes[:3])
                raise UserError(
                    f"dataset {self.name}: one batch holds inputs of shapes {listed}; a batch "
                    "needs one shape: make the dataset's items one size, or set batch_size=1"
                )
            x, y = batch
            yield (
                x.to(self.device, dtype=torch.float32, non_blocking=non_blocking),
                y.to(self.device, dtype=torch.int64, non_blocking=non_blocking),
            )

    @property
    def _pinned(self) -> bool:
        # Pinned host memory only speeds up copies to a GPU; elsewhere torch warns about it.
        return self.pin_memory and self.device.type == "cuda"

    def _loader(self, split: str, batch_size: int) -> _Loader:
        key = (split, batch_size)
        if key not in self._loaders:
            dataset = self.train if split == "train" else self.test
            shuffle, workers = torch.Generator(), torch.Generator()
            sampler: RandomSampler | SequentialSampler = (
                RandomSampler(dataset, generator=shuffle)  # type: ignore[arg-type]
                if split == "train"
                else SequentialSampler(dataset)  # type: ignore[arg-type]
            )
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                sampler=sampler,
                num_workers=self.num_workers,
                pin_memory=self._pinned,
                persistent_workers=self.num_workers > 0,
                # Workers' seeds come from their own generator, not torch's global one and not
                # the sampler's: the order is then the same whatever the number of workers.
                generator=workers,
                collate_fn=_Collate(self.name),
            )
            self._loaders[key] = _Loader(loader, shuffle, workers)
        return self._loaders[key]


@dataclass(frozen=True)
class _Loader:
    loader: DataLoader[Any]
    # Both reseeded every epoch: the sampler's, and the one the workers' seeds are drawn from.
    shuffle: torch.Generator
    workers: torch.Generator


def item_problem(item: Any) -> str:
    """What is wrong with one Dataset item, or "" when it is an `(x, y)` pair."""
    if not (isinstance(item, tuple | list) and len(item) == 2):
        return f"a {type(item).__name__}; expected a pair (x, y)"
    x, y = item
    if not isinstance(x, torch.Tensor) or x.dim() < 1 or not real_tensor(x):
        described = f"a tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else ""
        return (
            f"(x, y) with x {described or 'a ' + type(x).__name__}; expected x a tensor of "
            "real numbers with at least one dimension"
        )
    label_ok = (isinstance(y, Integral) and not isinstance(y, bool)) or (
        isinstance(y, torch.Tensor) and y.numel() == 1 and integral_tensor(y)
    )
    if not label_ok:
        described = (
            f"a tensor of dtype {y.dtype} and shape {tuple(y.shape)}"
            if isinstance(y, torch.Tensor)
            else f"a {type(y).__name__}"
        )
        return f"(x, y) with y {described}; expected y an integer class label"
    return ""


def real_tensor(x: torch.Tensor) -> bool:
    """Real numbers of any precision (not complex, not bool)."""
    return not x.is_complex() and x.dtype is not torch.bool


def integral_tensor(y: torch.Tensor) -> bool:
    """Integers of any width (not bool): class labels."""
    return not y.is_floating_point() and not y.is_complex() and y.dtype is not torch.bool


@dataclass(frozen=True)
class MixedShapes:
    """What a batch of differently shaped inputs collates to: the error is raised in the
    training process, as one line, rather than wrapped in a worker's traceback."""

    shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class BadItem:
    problem: str  # as `item_problem` says it


class _Collate:
    """torch's default collate, except for a batch of differently shaped inputs.

    A class, not a closure: worker processes may need to pickle it.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, items: Sequence[Any]) -> Any:
        for item in items:
            problem = item_problem(item)
            if problem:
                return BadItem(problem)
        shapes = {tuple(item[0].shape) for item in items if isinstance(item[0], torch.Tensor)}
        if len(shapes) > 1:
            return MixedShapes(tuple(sorted(shapes)))
        return default_collate(list(items))


__all__ = [
    "BadItem",
    "MixedShapes",
    "StreamData",
    "integral_tensor",
    "item_problem",
    "real_tensor",
]
