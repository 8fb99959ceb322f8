"""Wall time of the 2×2 sweep: one job after another against `hydra/launcher=joblib`.

    python scripts/bench_sweep.py [--pairs 2] [--n-jobs 2] [--threads 1]
    python scripts/bench_sweep.py --smoke     # one pair of a 1×2 sweep on a few images

Each run starts in an empty directory (new stores), as a user's first sweep does: the demo's
sweep (`scripts/demo.sh`: SimpleCNN conv 1/4 × ReLU off/on, synthetic data). The two
launchers alternate in ABBA order so that a load drifting on a shared machine hits both; the
ratio of the medians is the speed-up. `--threads` sets each job's torch threads (OMP): with
two jobs on two cores, one thread each is the fair split.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

SWEEP = [
    "net=simplecnn",
    "conv=1,4",
    "relu=0,1",
    "dataset=synthetic",
    "epochs=2",
    "rounds=2",
    "repetitions=2",
    "dataset.train_samples=2048",
    "dataset.test_samples=512",
    "energy=none",
    "progress=none",
]


# --smoke: one pair of the sweep's ReLU half (two jobs, so the joblib one still runs two at
# once), each job one round of one epoch on a few images.
SMOKE = {"pairs": 1}
TINY = [
    "conv=1",
    "epochs=1",
    "rounds=1",
    "repetitions=1",
    "dataset.train_samples=128",
    "dataset.test_samples=64",
    "warmup_steps=0",
]


def replaced(overrides: list[str], by: list[str]) -> list[str]:
    """`overrides` with the keys that `by` sets taken from `by`."""
    keys = {o.split("=")[0] for o in by}
    return [o for o in overrides if o.split("=")[0] not in keys] + by


def run(launcher: list[str], threads: int, sweep: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as cwd:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "green_ai.train", "-m", *launcher, *sweep],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"sweep failed:\n{out.stderr[-3000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="ABBA pairs of runs")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    sweep = replaced(SWEEP, TINY) if args.smoke else SWEEP
    launchers = {
        "sequential": [],
        f"joblib n_jobs={args.n_jobs}": [
            "hydra/launcher=joblib",
            f"hydra.launcher.n_jobs={args.n_jobs}",
        ],
    }
    names = list(launchers)
    times: dict[str, list[float]] = {name: [] for name in names}
    for pair in range(args.pairs):
        order = names if pair % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(run(launchers[name], args.threads, sweep))
            print(f"{name}: {times[name][-1]:.1f} s", flush=True)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name in names:
        print(f"{name:>20}: median {medians[name]:.1f} s over {len(times[name])} runs")
    print(f"speed-up sequential / parallel: {medians[names[0]] / medians[names[1]]:.2f}")


if __name__ == "__main__":
    main()
