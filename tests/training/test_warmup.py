"""Warm-up: the one-off costs of a first training are paid before the first measured
repetition, shown by counting them (never by timing: see scripts/bench_warmup.py for that).

- CPU: oneDNN JIT-compiles a convolution kernel the first time it meets a shape (a primitive
  cache miss, which ONEDNN_VERBOSE=2 lists). Without warm-up the first repetition compiles
  and the second does not; after warm-up neither compiles, and both create the same
  primitives: the first repetition does what the second does.
- CUDA: the caching allocator asks the driver for memory (cudaMalloc) while it grows to its
  working set; after warm-up neither repetition asks for any.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from green_ai.data import DeviceData
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.training import train_repetition, warm_up

ROOT = Path(__file__).resolve().parents[2]

# Two repetitions in a fresh process, first without warm-up (28×28 grey images), then with it
# on other shapes (32×32 colour) so that nothing from the first part is cached for the second.
# Batches of 48 over 200 images leave a partial batch of 8; 1100 test images are evaluated as
# 1024 + 76: the warm-up must cover all four shapes.
SCRIPT = """
import torch
from green_ai.data.synthetic import make_synthetic
from green_ai.data import DeviceData
from green_ai.nets import build_net
from green_ai.training import train_repetition, warm_up

torch.set_num_threads(1)

def mark(text):
    print("@@", text, flush=True)

for part, shape in (("cold", "fashion_mnist"), ("warm", "cifar10")):
    tx, ty, vx, vy = make_synthetic(
        shape=shape, num_classes=10, train_samples=200, test_samples=1100, seed=0
    )
    data = DeviceData(shape, tx, ty, vx, vy, num_classes=10)

    def make():
        return build_net(
            "simplecnn", input_shape=data.input_shape, num_classes=10, conv=2, linear=3, relu=1
        )

    if part == "warm":
        mark("warm-up")
        warm_up(make, data, batch_size=48, steps=3)
    for rep in (0, 1):
        mark(f"{part} rep{rep}")
        torch.manual_seed(rep)
        train_repetition(make(), data, {}, epochs=1, batch_size=48, seed=rep)
mark("end")
"""


def onednn_creations() -> dict[str, tuple[int, int]]:
    """Run SCRIPT; per section, (primitives created, of which compiled: cache misses)."""
    env = {**os.environ, "ONEDNN_VERBOSE": "2", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    counts: dict[str, tuple[int, int]] = {}
    section = "start"
    created = missed = 0
    for line in out.splitlines():
        if line.startswith("@@ "):
            counts[section] = (created, missed)
            section, created, missed = line[3:], 0, 0
        elif line.startswith(("onednn_verbose", "dnnl_verbose")) and ",create:" in line:
            created += 1
            missed += "cache_miss" in line
    return counts


@pytest.mark.slow
@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
def test_after_warm_up_the_first_repetition_compiles_nothing_the_second_does_not() -> None:
    counts = onednn_creations()
    # Control: without warm-up, the first repetition compiles kernels, the second none.
    assert counts["cold rep0"][1] > 0
    assert counts["cold rep1"][1] == 0
    # With warm-up, the compiling happens there, and both repetitions do the same work.
    assert counts["warm-up"][1] > 0
    assert counts["warm rep0"][1] == 0 == counts["warm rep1"][1]
    assert counts["warm rep0"][0] == counts["warm rep1"][0] > 0


def tiny_data(
    n: int = 200, n_test: int = 1100, shape: tuple[int, ...] = (1, 6, 6), device: str = "cpu"
) -> DeviceData:
    g = torch.Generator().manual_seed(0)
    tensors = [
        torch.randn(n, *shape, generator=g),
        torch.randint(0, 3, (n,), generator=g),
        torch.randn(n_test, *shape, generator=g),
        torch.randint(0, 3, (n_test,), generator=g),
    ]
    return DeviceData("tiny", *(t.to(device) for t in tensors), num_classes=3)


class ShapeRecorder(nn.Module):
    """Records the batch sizes it sees, in training and in evaluation."""

    def __init__(self, seen: list[tuple[str, int]]) -> None:
        super().__init__()
        self.linear = nn.Linear(36, 3)
        self.seen = seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(("train" if self.training else "eval", len(x)))
        return self.linear(x.flatten(1))


def test_warm_up_runs_every_batch_shape_of_a_repetition_within_its_steps() -> None:
    seen: list[tuple[str, int]] = []
    warm_up(lambda: ShapeRecorder(seen), tiny_data(), batch_size=48, steps=3)
    # 200 = 4×48 + 8 and 1100 = 1024 + 76: two full batches and the remainder, then the test
    # pass's full batch and its remainder.
    assert seen == [("train", 48), ("train", 48), ("train", 8), ("eval", 1024), ("eval", 76)]


def test_warm_up_is_at_most_one_epoch() -> None:
    seen: list[tuple[str, int]] = []
    warm_up(lambda: ShapeRecorder(seen), tiny_data(n=100, n_test=10), batch_size=48, steps=7)
    assert seen == [("train", 48), ("train", 48), ("train", 4), ("eval", 10)]


def test_warm_up_trains_at_least_seconds() -> None:
    seen: list[tuple[str, int]] = []
    warm_up(lambda: ShapeRecorder(seen), tiny_data(n=96), batch_size=48, steps=1, seconds=0.2)
    passes = sum(1 for kind, _ in seen if kind == "eval")
    assert passes >= 2  # one pass of one batch and a test pass take far less than 0.2 s
    assert seen[:3] == [("train", 48), ("eval", 1024), ("eval", 76)]


def test_warm_up_changes_nothing_that_follows() -> None:
    data = tiny_data()

    def make() -> nn.Module:
        return build_net(
            "densepoly", input_shape=(1, 6, 6), num_classes=3, conv=0, linear=2, relu=0
        )

    def first_repetition() -> tuple[float, float]:
        torch.manual_seed(5)
        result = train_repetition(make(), data, {"lr": 0.01}, epochs=2, batch_size=48, seed=5)
        return result.accuracy, result.epochs[-1].train_loss

    torch.manual_seed(123)
    without = first_repetition()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    elapsed = warm_up(make, data, batch_size=48, steps=5)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left as it was
    assert elapsed >= 0
    assert first_repetition() == without


def test_a_diverging_warm_up_is_not_an_error() -> None:
    class NaNNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(36, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x.flatten(1)) * float("nan")

    assert warm_up(NaNNet, tiny_data(), batch_size=48, steps=2) >= 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0, "steps": 1}, "batch_size=0 must be an integer of at least 1"),
        ({"batch_size": 8, "steps": 0}, "steps=0 must be an integer of at least 1"),
        ({"batch_size": 8, "steps": 1, "seconds": -1.0}, "seconds=-1.0 must be a number >= 0"),
    ],
)
def test_bad_warm_up_settings_are_user_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        warm_up(lambda: ShapeRecorder([]), tiny_data(), **kwargs)


@pytest.mark.needs_cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_on_cuda_the_first_repetition_after_warm_up_allocates_no_device_memory() -> None:
    def segments() -> int:  # cudaMalloc calls of the caching allocator so far
        torch.cuda.synchronize()
        return int(torch.cuda.memory_stats()["segment.all.allocated"])

    def make_for(data: DeviceData) -> nn.Module:
        return build_net(
            "simplecnn", input_shape=data.input_shape, num_classes=3, conv=2, linear=3, relu=1
        )

    def grown(data: DeviceData) -> list[int]:
        counts = []
        for rep in (0, 1):
            before = segments()
            model = make_for(data).to(data.train_x.device)
            train_repetition(model, data, {}, epochs=1, batch_size=48, seed=rep)
            del model
            counts.append(segments() - before)
        return counts

    # Control, on shapes of their own and an emptied cache: the first repetition grows the
    # allocator, the second reuses what it freed.
    torch.cuda.empty_cache()
    cold = tiny_data(n=300, shape=(3, 36, 36), device="cuda")
    first, second = grown(cold)
    assert first > 0 and second == 0
    torch.cuda.empty_cache()
    warm = tiny_data(shape=(1, 28, 28), device="cuda")
    warm_up(lambda: make_for(warm), warm, batch_size=48, steps=3)
    assert grown(warm) == [0, 0]
