"""How well does the what-if simulator predict real runs? Profile, run, predict, compare.

    python scripts/bench_simulator.py                   # shufflenet_v2_x1_0, 64 px, 1 CPU thread
    python scripts/bench_simulator.py --model alexnet --image-size 96 --requests 1024
    python scripts/bench_simulator.py --smoke            # the same steps on a few dozen requests

Works in `--rounds` rounds. Each round measures the model's profile (`mode=profile`), then
serves the stream for real once per frequency × batching policy (`mode=run`, into a throw-away
MLflow store), then predicts each run from that round's profile (`mode=simulate`): a profile
is meant to be measured on the machine in the state that will serve. Prints, per
configuration, the relative error of the prediction, (predicted - real) / real, averaged over
the rounds, and two noise floors: how far the same real run repeated in other rounds falls
apart ((max - min) / mean of the real runs), and how far the predictions of the rounds'
profiles do. Frequency `near` is 90% of the rate that one request at a time keeps up with
(0.9 / the first profile's service time of a batch of one): greedy batching's hardest case.
Energy comes from the configured meter (`--energy`; `estimate` where there is no sensor).
Results: docs/bench-inference.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from green_ai.config.store import register_configs  # noqa: E402
from green_ai.inference import (  # noqa: E402
    GreedyBatching,
    Profile,
    arrival_offsets,
    run_inference,
    simulate,
)

CONF = ROOT / "conf"
POLICIES = {
    "fixed-8": ["batching=fixed", "batch_size=8"],
    "fixed-32": ["batching=fixed", "batch_size=32"],
    "greedy": ["batching=greedy"],
    "timeout-32-0.25s": ["batching=timeout", "batch_size=32", "batching.max_delay_s=0.25"],
}
METRICS = {
    "response_p50_s": "p50",
    "response_p99_s": "p99",
    "response_max_s": "max",
    "energy_per_image_j": "energy/image",
}


def _cfg(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="infer", overrides=overrides)


def _relative(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / reference


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.1%}" if signed else f"{value:.1%}"


# --smoke: every step above, one round, on the least that still forms batches of each policy.
SMOKE = {
    "rounds": 1,
    "image_size": 32,
    "requests": 24,
    "frequencies": "64,near",
    "sizes": "1,2,4,8",
    "profile_time": 0.02,
    "pauses": "0.02",
    "overrides": [
        "profile.min_repeats=2",
        "profile.idle_s=0.1",
        "profile.wakeups=10",
        "warmup.min_batches=2",
        "warmup.max_batches=4",
    ],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="shufflenet_v2_x1_0")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--frequencies", default="16,near", help="numbers, or near")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--rounds", type=int, default=2, help="profile + real runs, repeated")
    parser.add_argument("--sizes", default="1,2,4,8,16,32,64", help="profiled batch sizes")
    parser.add_argument("--energy", default="estimate")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--profile-time", type=float, default=0.5, help="profile.min_time_s")
    parser.add_argument("--pauses", default="0.02,0.2,1.0,2.0", help="profile.pauses_s")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    parser.add_argument("overrides", nargs="*", help="more key=value settings of infer")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    register_configs()  # conf/infer.yaml names the typed schemas
    # MLflow puts a SQLite store's artifacts under ./mlruns: the working directory is the
    # throw-away folder too, so the caller's stays clean.
    with (
        tempfile.TemporaryDirectory(prefix="bench-inference-") as work,
        contextlib.chdir(work),
    ):
        _measure(args, Path(work))


def _simulator_speed() -> None:
    """How long the simulator takes for its worst case (greedy at a low rate: a batch per
    request) against the stream it simulates: a what-if must stay far faster than real."""
    profile = Profile([1, 128], service_s=[0.005, 0.2], energy_j=[0.5, 20], idle_power_w=30.0)
    arrivals = arrival_offsets(frequency=16, requests=8192, arrivals="poisson", seed=0)
    t = time.perf_counter()
    simulate(profile, arrivals, GreedyBatching(128))
    elapsed = time.perf_counter() - t
    print(
        f"simulator speed: 8192 greedy requests at 16/s in {elapsed:.2f} s, "
        f"{arrivals[-1] / elapsed:.0f}x faster than the {arrivals[-1]:.0f} s stream\n"
    )


def _measure(args: argparse.Namespace, work: Path) -> None:
    _simulator_speed()
    base = [
        f"model.name={args.model}",
        f"image_size={args.image_size}",
        f"requests={args.requests}",
        f"energy={args.energy}",
        f"device={args.device}",
        f"cpu_threads={args.threads}",
        f"profile.batch_sizes=[{args.sizes}]",
        f"profile.min_time_s={args.profile_time}",
        # The longest gap of the default runs is fixed-32's at 16/s: 2 s covers it.
        f"profile.pauses_s=[{args.pauses}]",
        f"tracking.uri=sqlite:///{work}/mlflow.db",
        *args.overrides,
    ]
    started = time.perf_counter()
    frequencies: list[str] = []
    results: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in range(args.rounds):
        profile = [f"profile.path={work}/profile-{r}.json"]
        t = time.perf_counter()
        run_inference(_cfg([*base, *profile, "mode=profile"]))
        print(f"round {r + 1}: profiled in {time.perf_counter() - t:.0f} s\n")
        if not frequencies:
            service_1 = Profile.load(f"{work}/profile-0.json").service_time(1)
            frequencies = [
                f"{0.9 / service_1:.0f}" if f == "near" else f for f in args.frequencies.split(",")
            ]
        configs = [(f, name) for f in frequencies for name in args.policies.split(",")]
        real = {
            (f, n): run_inference(_cfg([*base, *profile, f"frequency={f}", *POLICIES[n]]))
            for f, n in configs
        }
        for f, n in configs:
            overrides = [*base, *profile, f"frequency={f}", *POLICIES[n], "mode=simulate"]
            predicted = run_inference(_cfg(overrides))
            results.setdefault((f, n), []).append((real[(f, n)], predicted))
    _report(args, results, time.perf_counter() - started)


def _report(
    args: argparse.Namespace,
    results: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]],
    elapsed: float,
) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n{args.model} at {args.image_size} px, {args.requests} requests, {args.device}, "
        f"{args.threads} thread(s), energy={args.energy}, {args.rounds} rounds; "
        f"{platform.node()}, {os.cpu_count()} cores, load {load:.1f} at the end, "
        f"{elapsed:.0f} s in all"
    )
    print("error of the prediction, (predicted - real) / real, mean over the rounds;")
    print("in brackets the noise floors, (max - min) / mean over the rounds, of the real runs")
    print("and of the predictions:")
    print(f"{'freq':>5} {'policy':18s}" + "".join(f" {m:>27s}" for m in METRICS.values()))
    worst: dict[tuple[str, str], float] = {}
    for (frequency, name), pairs in results.items():
        cells = []
        for metric in METRICS:
            real = [r[metric] for r, _ in pairs if r.get(metric) is not None]
            predicted = [p[metric] for _, p in pairs if p.get(metric) is not None]
            errors = [
                e for r, p in pairs if (e := _relative(p.get(metric), r.get(metric))) is not None
            ]
            error = statistics.mean(errors) if errors else None
            cells.append(
                f"{_pct(error)} [{_pct(_spread(real), False)} {_pct(_spread(predicted), False)}]"
            )
            if error is not None:
                kind = name.split("-")[0]
                worst[(kind, metric)] = max(worst.get((kind, metric), 0.0), abs(error))
        print(f"{frequency:>5} {name:18s}" + "".join(f" {c:>27s}" for c in cells))
    print("largest |error| per policy and metric:")
    for kind in dict.fromkeys(k for k, _ in worst):
        print(
            f"  {kind:8s} "
            + ", ".join(
                f"{label} {worst[(kind, m)]:.1%}"
                for m, label in METRICS.items()
                if (kind, m) in worst
            )
        )
    print(
        "\none prediction against its own run, |error| at the median / 75th percentile / largest:"
    )
    single: dict[str, dict[str, list[float]]] = {}
    for (_, name), pairs in results.items():
        for metric in METRICS:
            single.setdefault(name.split("-")[0], {}).setdefault(metric, []).extend(
                abs(e)
                for r, p in pairs
                if (e := _relative(p.get(metric), r.get(metric))) is not None
            )
    for kind, by_metric in single.items():
        runs = max(len(v) for v in by_metric.values())
        cells = [f"{label} {_quartiles(by_metric[m])}" for m, label in METRICS.items()]
        print(f"  {kind:8s} {runs:>3} runs: " + ", ".join(cells))
    print("\nreal / predicted, each round:")
    for (frequency, name), pairs in results.items():
        cells = []
        for metric, label in {**METRICS, "batch_size_mean": "mean batch"}.items():
            cells.append(
                f"{label} "
                + " ".join(f"{_g(r.get(metric))}/{_g(p.get(metric))}" for r, p in pairs)
            )
        print(f"{frequency:>5} {name:18s} " + "; ".join(cells))


def _spread(values: list[float]) -> float | None:
    if len(values) < 2 or statistics.mean(values) == 0:
        return None
    return (max(values) - min(values)) / statistics.mean(values)


def _quartiles(values: list[float]) -> str:
    """Median, 75th percentile and largest of `values`, as percentages."""
    if not values:
        return "n/a"
    q3 = statistics.quantiles(values, n=4, method="inclusive")[2] if len(values) > 1 else values[0]
    return f"{statistics.median(values):.1%} / {q3:.1%} / {max(values):.1%}"


def _g(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


if __name__ == "__main__":
    main()
