"""How well does the what-if simulator predict real runs? Profile once, then compare.

    python scripts/bench_simulator.py                      # shufflenet_v2_x1_0, 64 px, CPU
    python scripts/bench_simulator.py --model alexnet --image-size 96 --requests 1024

Measures the model's profile (`mode=profile`), then for every frequency × batching policy runs
the stream for real (`mode=run`, into a throw-away MLflow store) and predicts it
(`mode=simulate`), and prints the relative error of each metric. Energy comes from the
configured meter (`--energy`, `estimate` on a machine without sensors). Results: see
docs/bench-inference.md.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from green_ai.inference import run_inference

CONF = Path(__file__).resolve().parents[1] / "conf"
POLICIES = {
    "fixed-8": ["batching=fixed", "batch_size=8"],
    "fixed-32": ["batching=fixed", "batch_size=32"],
    "greedy": ["batching=greedy"],
    "timeout-32-0.25s": ["batching=timeout", "batch_size=32", "batching.max_delay_s=0.25"],
}
METRICS = [
    "response_p50_s",
    "response_p99_s",
    "response_max_s",
    "batch_size_mean",
    "energy_per_image_j",
]


def _cfg(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="infer", overrides=overrides)


def _error(predicted: float | None, real: float | None) -> str:
    if predicted is None or real is None:
        return "n/a"
    if real == 0:
        return f"{predicted - real:+.3g}"
    return f"{(predicted - real) / real:+.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shufflenet_v2_x1_0")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--frequencies", default="16,64")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--energy", default="estimate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    base = [
        f"model.name={args.model}",
        f"image_size={args.image_size}",
        f"requests={args.requests}",
        f"energy={args.energy}",
        f"device={args.device}",
        f"cpu_threads={args.threads}",
        "warmup.batches=16",
        "warmup.batch_size=8",
        f"profile.path={work}/profile.json",
        "profile.batch_sizes=[1,2,4,8,16,32,64,128]",
        "profile.min_time_s=0.5",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
    ]
    t = time.perf_counter()
    run_inference(_cfg([*base, "mode=profile"]))
    print(f"profiled in {time.perf_counter() - t:.1f} s\n")

    rows = []
    for frequency in args.frequencies.split(","):
        for name in args.policies.split(","):
            overrides = [*base, f"frequency={frequency}", *POLICIES[name]]
            real = run_inference(_cfg([*overrides, "mode=run"]))
            t = time.perf_counter()
            predicted = run_inference(_cfg([*overrides, "mode=simulate"]))
            simulated_s = time.perf_counter() - t
            rows.append((frequency, name, real, predicted, simulated_s))

    print(f"\n{args.model} at {args.image_size} px, {args.requests} requests, {args.device}")
    print("relative error of the prediction, (predicted - real) / real:")
    header = f"{'freq':>5} {'policy':18s}" + "".join(f" {m:>19s}" for m in METRICS)
    print(header + f" {'simulate_s':>10s}")
    for frequency, name, real, predicted, simulated_s in rows:
        cells = "".join(f" {_error(predicted.get(m), real.get(m)):>19s}" for m in METRICS)
        print(f"{frequency:>5} {name:18s}{cells} {simulated_s:10.3f}")
    print("\nreal / predicted values:")
    for frequency, name, real, predicted, _ in rows:
        pairs = ", ".join(
            f"{m} {real.get(m, float('nan')):.4g}/{predicted.get(m, float('nan')):.4g}"
            for m in METRICS
        )
        print(f"{frequency:>5} {name:18s} {pairs}")


if __name__ == "__main__":
    main()
