"""Warm-up: does the first measured repetition of a fresh process cost what the next ones do?

Each trial is a fresh Python process (a cold start is once per process) that loads synthetic
images to the device and trains the same SimpleCNN three times with the same seed and
hyperparameters, timing each repetition (and metering it with `--energy`): `cold` trains
straight away, `warm` calls `green_ai.training.warm_up` first, as a study does before its idle
baseline. Trials alternate cold and warm so that machine noise hits both alike. Prints, per
mode, the median over trials of repetition 1 / repetition 2 (goal: within a few percent of
1.0 when warm) and of repetition 3 / repetition 2 (the noise floor), and what the warm-up cost.

    python scripts/bench_warmup.py [--trials 5] [--images 4096] [--conv 2] [--device auto]
    python scripts/bench_warmup.py --smoke --energy   # one fresh process per mode, a few batches
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One trial: runs in its own process and returns what it measured."""
    import torch

    from green_ai.data import DeviceData
    from green_ai.data.synthetic import make_synthetic
    from green_ai.nets import build_net
    from green_ai.training import configure_device, resolve_device, train_repetition, warm_up

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    configure_device(device)  # as a study does
    tx, ty, vx, vy = make_synthetic(
        shape="fashion_mnist",
        num_classes=10,
        train_samples=args.images,
        test_samples=args.test_images,
        seed=0,
    )
    data = DeviceData("synthetic", tx.to(device), ty.to(device), vx.to(device), vy.to(device), 10)
    meter = None
    if args.energy:
        from green_ai.config.energy import EnergyConfig
        from green_ai.energy import build_meter

        meter = build_meter(EnergyConfig(backend="auto", idle_s=0.0), device)

    def make() -> torch.nn.Module:
        return build_net(
            "simplecnn",
            input_shape=data.input_shape,
            num_classes=10,
            conv=args.conv,
            linear=3,
            relu=1,
        )

    warmup_s = None
    if args.child == "warm":
        warmup_s = warm_up(make, data, batch_size=args.batch_size, steps=args.steps)
    seconds: list[float] = []
    joules: list[float | None] = []
    for rep in range(3):
        torch.manual_seed(0)
        model = make().to(device)
        if meter is not None:
            meter.begin(f"rep{rep}")
        started = time.perf_counter()
        train_repetition(model, data, {}, epochs=args.epochs, batch_size=args.batch_size, seed=0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - started)
        if meter is not None:
            joules.append(meter.end(f"rep{rep}").energy_j)
    kind = None
    if meter is not None:
        kind = meter.kind
        meter.close()
    return {
        "seconds": seconds,
        "joules": joules,
        "warmup_s": warmup_s,
        "meter": kind,
        "device": str(device),
    }


def summarise(mode: str, trials: list[dict[str, Any]], key: str, unit: str) -> None:
    values = [t[key] for t in trials if t[key] and all(v is not None for v in t[key])]
    if not values:
        return
    first = [v[0] / v[1] for v in values]
    third = [v[2] / v[1] for v in values]
    mean_1 = statistics.median(v[1] for v in values)
    print(
        f"{mode:>4} {key:>7}: rep1/rep2 median {statistics.median(first):.3f} "
        f"(min {min(first):.3f}, max {max(first):.3f}); rep3/rep2 median "
        f"{statistics.median(third):.3f}; rep2 median {mean_1:.3f} {unit}"
    )


# --smoke: one trial per mode on a few batches, one thread, on the CPU.
SMOKE = {
    "trials": 1,
    "images": 128,
    "test_images": 32,
    "batch_size": 64,
    "conv": 1,
    "steps": 2,
    "device": "cpu",
    "threads": 1,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="fresh processes per mode")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--test-images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--conv", type=int, default=2)
    parser.add_argument("--steps", type=int, default=16, help="warm_up steps")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--energy", action="store_true", help="meter each repetition too")
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    if args.child:
        print("@@" + json.dumps(child(args)))
        return
    passed = [
        f"--{key.replace('_', '-')}={value}"
        for key, value in vars(args).items()
        if key not in ("trials", "child", "energy", "smoke")
    ] + (["--energy"] if args.energy else [])
    results: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    for _ in range(args.trials):
        for mode in ("cold", "warm"):
            out = subprocess.run(
                [sys.executable, __file__, *passed, "--child", mode],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
            line = next(x for x in out.splitlines() if x.startswith("@@"))
            results[mode].append(json.loads(line[2:]))
    device = results["cold"][0]["device"]
    print(
        f"SimpleCNN conv={args.conv} linear=3 relu=1, device {device}, {args.images} images × "
        f"{args.epochs} epoch(s), batch {args.batch_size}, {args.test_images} test images, "
        f"{args.trials} fresh processes per mode, warm_up steps={args.steps}"
    )
    for mode in ("cold", "warm"):
        summarise(mode, results[mode], "seconds", "s")
        summarise(mode, results[mode], "joules", "J")
    warm = [t["warmup_s"] for t in results["warm"]]
    print(f"warm_up took {statistics.median(warm):.3f} s (median)")
    meters = {t["meter"] for t in results["warm"]} - {None}
    if meters:
        print(f"meter: {', '.join(sorted(meters))}")


if __name__ == "__main__":
    main()
