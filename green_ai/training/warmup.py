"""Warm the device up before anything is measured, so that the first repetition costs what
the others do.

The first training in a process pays one-off costs that the next ones do not: kernels built
or loaded on first use (oneDNN's JIT-compiled convolutions on the CPU, lazily loaded CUDA
modules, cuBLAS/cuDNN handles), the caching allocator growing to its working set, clocks
leaving their idle state. Measured inside the first repetition they made it cost about 3× the
next ones (issue 10: 34.9 J against 12.1 J) and inflated its cell's CV. The thesis's own
inference study warms up first for the same reason (§4.6.1: 256 batches of 32 images before
measuring, as the GPU idled at a higher power at first); its training study did not.

`warm_up` runs a short, untimed training of a throw-away model on exactly the shapes a
repetition uses — full batches, the epoch's last partial batch, the test pass's batches and
its remainder — through the same `train_repetition`, so the same kernels run; and the
shuffled copy of the whole training set that each epoch makes, so the allocator holds it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import torch
from torch import nn

from green_ai.config.checks import require_int, require_number
from green_ai.data import DeviceData
from green_ai.training.loop import EVAL_BATCH_SIZE, DivergedError, train_repetition


def warm_up(
    make_model: Callable[[], nn.Module],
    data: DeviceData,
    *,
    batch_size: int,
    steps: int = 16,
    seconds: float = 0.0,
) -> float:
    """Train a model from `make_model()` for `steps` batches, untimed; return its seconds.

    Call it after the data is on the device and before the idle baseline and the first
    measured window. The model trains with Adam's defaults on the first images of `data` (the
    values do not matter, the shapes do) and is then dropped: `steps` batches (a full one and
    the epoch's last, partial one at least; at most one epoch, when every shape has run), and
    the test pass. Then the same batches again until `seconds` have gone by (0: no minimum;
    a GPU's clocks take a moment to leave idle). The global RNG state is left as it was, so
    what the study trains next is what it would have trained without the warm-up.
    """
    require_int("batch_size", batch_size, minimum=1)
    require_int("steps", steps, minimum=1)
    require_number("seconds", seconds, low=0)
    device = data.train_x.device
    started = time.perf_counter()
    n_train = _train_images(len(data.train_x), batch_size, steps)
    n_test = _test_images(len(data.test_x))
    shapes = DeviceData(
        name=data.name,
        train_x=data.train_x[:n_train],
        train_y=data.train_y[:n_train],
        test_x=data.test_x[:n_test],
        test_y=data.test_y[:n_test],
        num_classes=data.num_classes,
    )
    rng_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        _train_until(make_model().to(device), shapes, batch_size, started + seconds)
        # Each epoch trains on a shuffled copy of the whole training set: make the
        # allocator hold blocks of that size now, not in the first measured epoch.
        order = torch.randperm(len(data.train_x), device=device)
        shuffled = (data.train_x[order], data.train_y[order])
        del order, shuffled
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def _train_until(model: nn.Module, shapes: DeviceData, batch_size: int, until: float) -> None:
    """One untimed epoch over `shapes`, then more until the clock reaches `until`."""
    seed = 0
    while True:
        # A diverged warm-up ran the kernels all the same; its weights are thrown away.
        with contextlib.suppress(DivergedError):
            train_repetition(
                model,
                shapes,
                {},
                epochs=1,
                batch_size=batch_size,
                seed=seed,
                eval_every_epoch=False,
            )
        seed += 1
        if time.perf_counter() >= until:
            return


def _train_images(n: int, batch_size: int, steps: int) -> int:
    """How many leading images make `steps` batches (at most all `n`: one epoch) of the
    shapes an epoch over all `n` images has: full batches, then the remainder if any."""
    full, tail = divmod(n, batch_size)
    if steps >= full + (tail > 0):
        return n
    return max(steps - (tail > 0), 1) * batch_size + tail


def _test_images(n: int) -> int:
    """Leading test images whose evaluation has the shapes of evaluating all `n`: one full
    batch and the remainder."""
    if n <= EVAL_BATCH_SIZE:
        return n
    return EVAL_BATCH_SIZE + n % EVAL_BATCH_SIZE
