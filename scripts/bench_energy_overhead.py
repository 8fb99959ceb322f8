"""Overhead of the energy meter on a training loop: NVML power polling at 10 ms vs no meter.

A small CNN trains on random tensors on the CPU. The same loop runs without a meter and with
the NVML backend in polling mode (no hardware counter, so the background sampler integrates
power every `--interval-s`) against an in-process fake NVML, one window per block of steps.
The two conditions alternate in ABBA order in one run; the median of the within-pair ratios
is the slowdown (robust to the load of a shared machine drifting during the run).

    python scripts/bench_energy_overhead.py [--steps 10] [--repeats 41] [--interval-s 0.01]
    python scripts/bench_energy_overhead.py --smoke     # a few short pairs

The fake answers in microseconds; a real `nvmlDeviceGetPowerUsage` is a driver call, so
rerun on a GPU machine with `--real` to measure the real cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types

import torch
from torch import nn

from green_ai.energy import EnergyConfig, build_meter


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


# --smoke: a few pairs of short blocks.
SMOKE = {"steps": 2, "repeats": 4}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="batches per timed block")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=41, help="pairs of blocks, ABBA order")
    parser.add_argument("--interval-s", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--real", action="store_true", help="use the installed pynvml and GPU 0")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    calls = None
    if not args.real:
        sys.modules["pynvml"], calls = fake_pynvml()
    cfg = EnergyConfig(backend="nvml", interval_s=args.interval_s, counter=False, devices=[0])

    n = args.steps * args.batch_size
    x, y = torch.randn(n, 1, 28, 28), torch.randint(0, 10, (n,))
    model = small_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def bare() -> float:
        start = time.perf_counter()
        train_epoch(model, opt, x, y, args.batch_size)
        return time.perf_counter() - start

    def metered() -> float:
        # A fresh meter per block, so no sampler thread exists during the bare blocks. The
        # model trains on the CPU; the meter polls GPU 0 (fake or real) beside it.
        meter = build_meter(cfg, torch.device("cpu"))
        start = time.perf_counter()
        with meter.window("epoch"):
            train_epoch(model, opt, x, y, args.batch_size)
        elapsed = time.perf_counter() - start
        meter.close()
        return elapsed

    bare()  # warm-up
    metered()
    times: dict[str, list[float]] = {"bare": [], "metered": []}
    samples_before = calls["power"] if calls else 0
    for i in range(args.repeats):  # ABBA: drift in machine load cancels within pairs
        if i % 2 == 0:
            times["bare"].append(bare())
            times["metered"].append(metered())
        else:
            times["metered"].append(metered())
            times["bare"].append(bare())
    samples = (calls["power"] - samples_before) if calls else None

    # The sampler's own cost: one poll (read + update the open window), in a tight loop.
    meter = build_meter(cfg, torch.device("cpu"))
    meter.begin("polls")
    start = time.perf_counter()
    for _ in range(2000):
        meter.poll()
    poll_s = (time.perf_counter() - start) / 2000
    meter.end("polls")
    meter.close()

    b_list, m_list = times["bare"], times["metered"]
    b, m = statistics.median(b_list), statistics.median(m_list)
    pair = statistics.median(t / u for t, u in zip(m_list, b_list, strict=True))
    print(
        f"{args.repeats} pairs of {args.steps} steps x batch {args.batch_size}, "
        f"{args.threads} torch thread(s), polling every {args.interval_s * 1000:g} ms"
    )
    print(f"block time no meter: median {b:.4f} s, min {min(b_list):.4f}, max {max(b_list):.4f}")
    print(f"block time metered:  median {m:.4f} s, min {min(m_list):.4f}, max {max(m_list):.4f}")
    if samples is not None:
        polled = sum(m_list)
        print(
            f"power samples taken: {samples} in {polled:.1f} s metered "
            f"({samples / polled:.0f}/s; at most {1 / args.interval_s:.0f}/s)"
        )
    print(f"ratio of minima {min(m_list) / min(b_list):.4f}")
    print(f"ratio of medians {m / b:.4f}")
    print(f"median ratio within pairs {pair:.4f} -> slowdown {100 * (pair - 1):+.2f}% (goal < 2%)")
    print(
        f"one poll costs {poll_s * 1e6:.1f} us: {100 * poll_s / args.interval_s:.2f}% of one "
        f"core at {args.interval_s * 1000:g} ms"
    )


if __name__ == "__main__":
    main()
