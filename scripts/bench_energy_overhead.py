"""Overhead of the energy meter on a training loop: NVML power polling at 10 ms vs no meter.

A small CNN trains on random tensors on the CPU. The same loop runs without a meter and with
the NVML backend in polling mode (no hardware counter, so the background sampler integrates
power every `--interval-s`) against an in-process fake NVML, one window per epoch. The two
conditions alternate, several times, in one run; the ratio of the medians is the slowdown.

    python scripts/bench_energy_overhead.py [--steps 40] [--repeats 9] [--interval-s 0.01]

The fake answers in microseconds; a real `nvmlDeviceGetPowerUsage` is a driver call, so
rerun on a GPU machine with `--real` to measure the real cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from green_ai.energy import EnergyMeter, build_meter

CONF = Path(__file__).resolve().parents[1] / "conf" / "energy" / "nvml.yaml"


class _NVMLError(Exception):
    pass


def fake_pynvml() -> tuple[types.ModuleType, dict[str, int]]:
    """One GPU drawing 200 W, with no energy counter (so the polling path is used)."""
    calls = {"power": 0}
    mod = types.ModuleType("pynvml")

    def power(_: object) -> int:
        calls["power"] += 1
        return 200_000

    def no_counter(_: object) -> int:
        raise _NVMLError("Not Supported")

    attrs = {
        "NVMLError": _NVMLError,
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetUUID": lambda h: "GPU-00000000-0000-4000-8000-000000000000",
        "nvmlDeviceGetName": lambda h: "Fake GPU",
        "nvmlDeviceGetPowerUsage": power,
        "nvmlDeviceGetTotalEnergyConsumption": no_counter,
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=50, memory=0),
    }
    for name, value in attrs.items():
        setattr(mod, name, value)
    return mod, calls


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train_epoch(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, bs: int
) -> float:
    loss = torch.zeros(())
    for i in range(0, len(x), bs):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x[i : i + bs]), y[i : i + bs])
        loss.backward()
        opt.step()
    return loss.item()


def timed(
    meter: EnergyMeter | None,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    bs: int,
) -> float:
    start = time.perf_counter()
    if meter is None:
        train_epoch(model, opt, x, y, bs)
    else:
        with meter.window("epoch"):
            train_epoch(model, opt, x, y, bs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="batches per timed epoch")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9, help="alternating pairs of epochs")
    parser.add_argument("--interval-s", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--real", action="store_true", help="use the installed pynvml and GPU 0")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    calls = None
    if not args.real:
        sys.modules["pynvml"], calls = fake_pynvml()
    cfg = OmegaConf.load(CONF)
    assert isinstance(cfg, DictConfig)
    cfg.merge_with({"interval_s": args.interval_s, "counter": False, "devices": [0]})
    # The model trains on the CPU; the meter polls GPU 0 (fake or real) beside it.
    meter = build_meter(cfg, torch.device("cpu"))

    n = args.steps * args.batch_size
    x, y = torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,))
    model = small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    timed(None, model, opt, x, y, args.batch_size)  # warm-up
    timed(meter, model, opt, x, y, args.batch_size)

    bare: list[float] = []
    metered: list[float] = []
    polled_s = 0.0
    samples_before = calls["power"] if calls else 0
    for _ in range(args.repeats):
        bare.append(timed(None, model, opt, x, y, args.batch_size))
        t = timed(meter, model, opt, x, y, args.batch_size)
        metered.append(t)
        polled_s += t
    samples = (calls["power"] - samples_before) if calls else None
    # The sampler's own cost: one poll (read + update the open window), timed in a tight loop.
    meter.begin("polls")
    start = time.perf_counter()
    for _ in range(2000):
        meter.poll()
    poll_s = (time.perf_counter() - start) / 2000
    meter.end("polls")
    meter.close()

    b, m = statistics.median(bare), statistics.median(metered)
    print(f"epoch of {args.steps} steps x batch {args.batch_size}, {args.threads} thread(s)")
    print("no meter     (s): " + " ".join(f"{t:.3f}" for t in bare))
    print(f"nvml {args.interval_s * 1000:g} ms (s): " + " ".join(f"{t:.3f}" for t in metered))
    if samples is not None:
        print(
            f"power samples taken: {samples} in {polled_s:.1f} s metered "
            f"({samples / polled_s:.0f}/s; expected about {1 / args.interval_s:.0f}/s)"
        )
    print(f"median no meter {b:.4f} s, with meter {m:.4f} s")
    print(f"ratio of minima {min(metered) / min(bare):.4f}")
    pair = statistics.median(t / u for t, u in zip(metered, bare, strict=True))
    print(f"ratio of medians {m / b:.4f} -> slowdown {100 * (m / b - 1):+.2f}% (goal < 2%)")
    print(f"median ratio of adjacent pairs {pair:.4f} -> slowdown {100 * (pair - 1):+.2f}%")
    print(
        f"one poll costs {poll_s * 1e6:.1f} us: {100 * poll_s / args.interval_s:.2f}% of one "
        f"core at {args.interval_s * 1000:g} ms"
    )


if __name__ == "__main__":
    main()
