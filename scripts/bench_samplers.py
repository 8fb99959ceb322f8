"""Benchmark the search strategies on standard test functions (thesis §3.6.1).

For every test function, strategy and seed one study of ``max(budgets)`` trials is run; the best
value after the first 27 and 64 trials is the best value at those budgets (no strategy knows the
budget, so a shorter study would have made the same choices). Reported: the median, over seeds,
of the gap between that best value and the function's known minimum. Then the time one
suggestion takes on the thesis's search spaces (adam3, adam5) once a study holds 27, 64 and 256
completed trials, with torch's and BLAS's default thread counts (each sampler limits its own),
the strategies taking turns so that each ratio to Optuna's GP is measured under the same load.

    python scripts/bench_samplers.py                       # the full run (long on 2 cores)
    python scripts/bench_samplers.py --seeds 2 --budgets 27 --functions hartmann3 --no-timing
    python scripts/bench_samplers.py --no-search --strategies gp_pi gp   # timing only
    python scripts/bench_samplers.py --smoke     # both tables, one seed, two GP rounds each

Strategies are built by the same factories as ``search=...`` with the configs' defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import optuna
import torch
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, FloatDistribution
from threadpoolctl import threadpool_info

from green_ai.samplers import factories

CONF = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class TestFunction:
    """A function to minimise on a box, with its known minimum."""

    name: str
    bounds: list[tuple[float, float]]
    minimum: float
    f: Callable[[np.ndarray], float]
    note: str


def _hartmann3(x: np.ndarray) -> float:
    alpha = np.array([1.0, 1.2, 3.0, 3.2])
    A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
    P = 1e-4 * np.array(
        [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
    )
    return float(-(alpha * np.exp(-(A * (x - P) ** 2).sum(axis=1))).sum())


def _branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)).sum()
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def _rosenbrock(x: np.ndarray) -> float:
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


FUNCTIONS = {
    f.name: f
    for f in [
        TestFunction("hartmann3", [(0.0, 1.0)] * 3, -3.862782, _hartmann3, "3-D, four minima"),
        TestFunction(
            "rosenbrock3", [(-2.0, 2.0)] * 3, 0.0, _rosenbrock, "3-D, narrow curved valley"
        ),
        TestFunction(
            "branin5",
            [(-5.0, 10.0), (0.0, 15.0)] + [(0.0, 1.0)] * 3,
            0.397887,
            lambda x: _branin(float(x[0]), float(x[1])),
            "5-D, only 2 dimensions matter (low effective dimensionality)",
        ),
        TestFunction("levy5", [(-10.0, 10.0)] * 5, 0.0, _levy, "5-D, many local minima"),
    ]
}

STRATEGIES: dict[str, Callable[..., optuna.samplers.BaseSampler]] = {
    "gp_pi": factories.gp_pi_sampler,
    "gp": factories.gp_sampler,
    "tpe": factories.tpe_sampler,
    "random": factories.random_sampler,
    "grid": factories.grid_sampler,
}


def _space(fn: TestFunction) -> dict[str, BaseDistribution]:
    return {f"x{i}": FloatDistribution(lo, hi) for i, (lo, hi) in enumerate(fn.bounds)}


def _objective(fn: TestFunction, space: dict[str, BaseDistribution]) -> Callable[..., float]:
    def objective(trial: optuna.Trial) -> float:
        x = []
        for name, dist in space.items():
            assert isinstance(dist, FloatDistribution)
            x.append(trial.suggest_float(name, dist.low, dist.high))
        return fn.f(np.array(x))

    return objective


def best_so_far(
    fname: str, strategy: str, seed: int, n_trials: int, xi: list[float] | None = None
) -> list[float]:
    """Best value after each trial of one minimising study (``xi``: GP-PI's margin or
    schedule; None keeps the configured default)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    fn = FUNCTIONS[fname]
    space = _space(fn)
    extra = {"xi": xi[0] if len(xi) == 1 else xi} if strategy == "gp_pi" and xi else {}
    study = optuna.create_study(sampler=STRATEGIES[strategy](space=space, seed=seed, **extra))
    study.optimize(_objective(fn, space), n_trials=n_trials)
    values = np.array([t.value for t in study.trials], dtype=float)
    return np.minimum.accumulate(values).tolist()


def hparams_space(name: str) -> dict[str, BaseDistribution]:
    """The search space ``hparams=name`` (conf/hparams/NAME.yaml) as Optuna distributions."""
    params = OmegaConf.load(CONF / "hparams" / f"{name}.yaml").params
    return {n: FloatDistribution(p.low, p.high, log=p.log) for n, p in params.items()}


def _accuracy(params: dict[str, float], rng: np.random.Generator) -> float:
    """A made-up accuracy over Adam's settings: best near PyTorch's defaults, noisy."""
    best = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-4}
    gap = sum(
        (math.log10(v / best[n]) / 2) ** 2
        if n in ("lr", "eps", "weight_decay")
        else (v - best[n]) ** 2
        for n, v in params.items()
    )
    return 0.9 * math.exp(-gap) + 0.01 * float(rng.normal())


def _prepared_study(
    strategy: str, space: dict[str, BaseDistribution], n_done: int
) -> optuna.Study:
    """A maximising study of ``strategy`` holding ``n_done`` completed random trials."""
    study = optuna.create_study(
        direction="maximize", sampler=STRATEGIES[strategy](space=space, seed=0)
    )
    rng = np.random.default_rng(0)
    for _ in range(n_done):
        params = {}
        for name, d in space.items():
            assert isinstance(d, FloatDistribution)
            u = rng.uniform()
            params[name] = float(
                d.low * (d.high / d.low) ** u if d.log else d.low + u * (d.high - d.low)
            )
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=space, value=_accuracy(params, rng)
            )
        )
    return study


def _time_one_suggestion(study: optuna.Study, space: dict[str, BaseDistribution]) -> float:
    """Seconds for one ask-and-suggest of every parameter; the trial is then told."""
    start = time.perf_counter()
    trial = study.ask()
    params = {}
    for name, d in space.items():
        assert isinstance(d, FloatDistribution)
        params[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
    seconds = time.perf_counter() - start
    study.tell(trial, _accuracy(params, np.random.default_rng(trial.number)))
    return seconds


def seconds_per_suggestion(
    strategies: list[str], space: dict[str, BaseDistribution], n_done: int, repeats: int
) -> dict[str, float]:
    """Median seconds per suggestion of each strategy once its study holds ``n_done`` trials.

    The strategies take turns, suggestion by suggestion, so a change in the machine's load
    reaches them all alike; the first suggestion of each warms up (imports, caches).
    """
    studies = {s: _prepared_study(s, space, n_done) for s in strategies}
    times: dict[str, list[float]] = {s: [] for s in strategies}
    for i in range(repeats + 1):
        for strategy, study in studies.items():
            seconds = _time_one_suggestion(study, space)
            if i > 0:
                times[strategy].append(seconds)
    return {s: statistics.median(t) for s, t in times.items()}


# --smoke: one function and one space, 12 trials: the 10 random start-up trials and two
# suggestions of each model-based strategy.
SMOKE = {
    "seeds": 1,
    "budgets": [12],
    "functions": ["hartmann3"],
    "timing_trials": [12],
    "timing_spaces": ["adam3"],
    "timing_repeats": 1,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", type=int, nargs="+", default=[27, 64])
    parser.add_argument("--functions", nargs="+", default=list(FUNCTIONS), choices=FUNCTIONS)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--timing-trials", type=int, nargs="+", default=[27, 64, 256])
    parser.add_argument("--timing-spaces", nargs="+", default=["adam3", "adam5"])
    parser.add_argument("--timing-repeats", type=int, default=9)
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="studies run in parallel")
    parser.add_argument(
        "--xi", type=float, nargs="+", default=None, help="GP-PI's margin ξ (several: a schedule)"
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    raw: dict[str, object] = {"args": vars(args)}
    np.ones(2) @ np.ones(2)  # load BLAS, so that its thread count shows
    blas = sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
    print(f"# torch threads {torch.get_num_threads()}, BLAS threads {blas} (defaults)")

    if not args.no_search:
        n_trials = max(args.budgets)
        tasks = [
            (fname, strategy, seed, n_trials, args.xi)
            for fname in args.functions
            for strategy in args.strategies
            for seed in range(args.seeds)
        ]
        start = time.perf_counter()
        with Pool(args.jobs) as pool:
            results = pool.starmap(best_so_far, tasks)
        print(f"# {len(tasks)} studies in {time.perf_counter() - start:.0f} s", flush=True)
        curves: dict[str, dict[str, list[list[float]]]] = {}
        for (fname, strategy, *_), curve in zip(tasks, results, strict=True):
            curves.setdefault(fname, {}).setdefault(strategy, []).append(curve)
        raw["curves"] = curves
        print(f"\nMedian gap to the minimum over {args.seeds} seeds (lower is better)\n")
        print("| function | budget | " + " | ".join(args.strategies) + " |")
        print("|---|---|" + "---|" * len(args.strategies))
        for fname in args.functions:
            for budget in args.budgets:
                cells = []
                for strategy in args.strategies:
                    gaps = [
                        c[budget - 1] - FUNCTIONS[fname].minimum for c in curves[fname][strategy]
                    ]
                    cells.append(f"{statistics.median(gaps):.3g}")
                print(f"| {fname} | {budget} | " + " | ".join(cells) + " |")
        print()
        for budget in args.budgets:
            for other in [s for s in args.strategies if s != "gp_pi"]:
                if "gp_pi" not in args.strategies:
                    break
                wins = sum(
                    a[budget - 1] < b[budget - 1]
                    for fname in args.functions
                    for a, b in zip(curves[fname]["gp_pi"], curves[fname][other], strict=True)
                )
                runs = len(args.functions) * args.seeds
                print(f"budget {budget}: gp_pi better than {other} in {wins}/{runs} runs")

    if not args.no_timing:
        timing: dict[str, dict[int, dict[str, float]]] = {}
        ratio = "gp_pi" in args.strategies and "gp" in args.strategies
        print("\nSeconds per suggestion (median; strategies taking turns)\n")
        print(
            "| space | trials | "
            + " | ".join(args.strategies)
            + (" | gp_pi / gp |" if ratio else " |")
        )
        print("|---|---|" + "---|" * (len(args.strategies) + ratio))
        for name in args.timing_spaces:
            space = hparams_space(name)
            timing[name] = {}
            for n in args.timing_trials:
                t = seconds_per_suggestion(args.strategies, space, n, args.timing_repeats)
                timing[name][n] = t
                cells = [f"{t[s]:.3g}" for s in args.strategies]
                if ratio:
                    cells.append(f"**{t['gp_pi'] / t['gp']:.2f}**")
                print(f"| {name} | {n} | " + " | ".join(cells) + " |", flush=True)
        raw["timing"] = timing

    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f)


if __name__ == "__main__":
    main()
