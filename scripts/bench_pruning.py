"""Pruning as an energy lever: joules to reach the same best accuracy, with and
without each of Optuna's pruners.

For every seed, the same study (random search, so every pruner sees the same hyperparameters
in the same order) runs once per pruner on synthetic data on the CPU, through `run_study`, as
`python -m green_ai.train search.pruner=...` would. Reported per pruner: rounds pruned, joules
spent by the whole study (pruned rounds' included), its best accuracy, and the joules spent
until a round first reached the unpruned study's best accuracy (and 99% of it), each also as a
ratio to the unpruned study of the same seed: ratios measured in one run.

    python scripts/bench_pruning.py                        # 3 seeds × 4 pruners
    python scripts/bench_pruning.py --seeds 0 --rounds 8 --epochs 3
    python scripts/bench_pruning.py --smoke                # one seed, a few tiny rounds

Energy is `energy=estimate` (CPU time × watts per core; no sensor on the build machine), so
the joules are proportional to the CPU time each study used.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402
from _cpu_study import run_cpu_study  # noqa: E402

from green_ai.config.store import register_configs  # noqa: E402

PRUNERS = ("none", "median", "successive_halving", "hyperband")


@dataclass(frozen=True)
class Result:
    pruner: str
    seed: int
    rounds: int
    pruned: int
    energy_j: float
    best_accuracy: float
    params: tuple[tuple[tuple[str, float], ...], ...]
    seconds: float


def study(args: argparse.Namespace, pruner: str, seed: int, store: Path) -> Result:
    overrides = [
        "dataset=synthetic",
        f"dataset.train_samples={args.samples}",
        f"dataset.test_samples={args.samples // 2}",
        f"epochs={args.epochs}",
        f"rounds={args.rounds}",
        f"repetitions={args.repetitions}",
        f"conv={args.conv}",
        "linear=2",
        "search=random",
        f"search.pruner={pruner}",
        f"seed={seed}",
    ]
    ran = run_cpu_study(overrides, store)
    outcome, seconds = ran.outcome, ran.seconds
    trials = ran.trials
    counted = [t for t in trials if t.state.is_finished()]
    return Result(
        pruner=pruner,
        seed=seed,
        rounds=len(counted),
        pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        energy_j=sum(float(t.user_attrs.get("energy_j", 0.0)) for t in counted),
        best_accuracy=outcome.best_accuracy or 0.0,
        params=tuple(tuple(sorted(t.params.items())) for t in counted),
        seconds=seconds,
    )


def spent_until(storage: str, seed: int, pruner: str, target: float) -> float | None:
    """Joules the study of (`pruner`, `seed`) spent up to and including its first COMPLETE
    round at or above `target` accuracy, pruned and failed rounds before it included."""
    summaries = optuna.get_all_study_summaries(storage)
    for s in summaries:
        study = optuna.load_study(study_name=s.study_name, storage=storage)
        attrs = study.user_attrs
        if attrs.get("pruner") != pruner or attrs.get("seed") != seed:
            continue
        spent = 0.0
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
            spent += float(t.user_attrs.get("energy_j", 0.0))
            complete = t.state == optuna.trial.TrialState.COMPLETE
            if complete and t.value is not None and t.value >= target - 1e-12:
                return spent
        return None
    return None


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}"


# --smoke: every pruner on one seed, two tiny rounds (too few for any of them to prune).
SMOKE = {"seeds": [0], "rounds": 2, "epochs": 1, "repetitions": 1, "samples": 64}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=2)
    # Few images: accuracies spread out instead of every good round reaching 100%.
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--conv", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    register_configs()
    import torch

    torch.set_num_threads(1)
    print(
        f"random search, {args.rounds} rounds × {args.repetitions} repetitions × "
        f"{args.epochs} epochs, SimpleCNN conv={args.conv} linear=2, {args.samples} synthetic "
        f"images, CPU, 1 torch thread, energy=estimate"
    )
    rows: list[tuple[Result, float | None, float | None]] = []
    same = True
    # MLflow puts a SQLite store's artifacts under ./mlruns: the working directory is the
    # throw-away folder too, so the caller's stays clean.
    with tempfile.TemporaryDirectory(prefix="bench_pruning_") as tmp, contextlib.chdir(tmp):
        store = Path(tmp)
        storage = f"sqlite:///{store}/studies.db"
        for seed in args.seeds:
            results = {p: study(args, p, seed, store) for p in PRUNERS}
            base = results["none"]
            for p, r in results.items():
                if r.params != base.params:
                    same = False
                    print(f"warning: {p} drew other hyperparameters than none (seed {seed})")
                best = spent_until(storage, seed, p, base.best_accuracy)
                near = spent_until(storage, seed, p, 0.99 * base.best_accuracy)
                rows.append((r, best, near))
    header = (
        f"{'seed':>4}  {'pruner':<18} {'pruned':>6} {'joules':>8} {'× none':>6} "
        f"{'best acc':>8} {'J to best':>9} {'× none':>6} {'J to 99%':>9} {'× none':>6} "
        f"{'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    by_seed = {r.seed: (r, b, n) for r, b, n in rows if r.pruner == "none"}
    ratios: dict[str, list[tuple[float, float | None, float | None]]] = {p: [] for p in PRUNERS}
    for r, best, near in rows:
        base, base_best, base_near = by_seed[r.seed]

        def cell(v: float | None) -> str:
            return "never" if v is None else f"{v:.1f}"

        print(
            f"{r.seed:>4}  {r.pruner:<18} {r.pruned:>6} {r.energy_j:>8.1f} "
            f"{ratio(r.energy_j, base.energy_j):>6} {r.best_accuracy:>8.4f} "
            f"{cell(best):>9} {ratio(best, base_best):>6} {cell(near):>9} "
            f"{ratio(near, base_near):>6} {r.seconds:>7.1f}"
        )
        ratios[r.pruner].append(
            (
                r.energy_j / base.energy_j,
                None if best is None or not base_best else best / base_best,
                None if near is None or not base_near else near / base_near,
            )
        )
    if same:
        print("every pruner's study drew the same hyperparameters, in the same order, as none")
    print("\nmedian over seeds (pruner / none):")
    for p in PRUNERS[1:]:
        spent = statistics.median(x[0] for x in ratios[p])
        reached = [x[1] for x in ratios[p] if x[1] is not None]
        reached99 = [x[2] for x in ratios[p] if x[2] is not None]
        best_text = f"{statistics.median(reached):.2f}" if reached else "never"
        near_text = f"{statistics.median(reached99):.2f}" if reached99 else "never"
        print(
            f"  {p:<18} joules {spent:.2f}; joules to the unpruned best {best_text} "
            f"(reached in {len(reached)}/{len(ratios[p])} seeds); to 99% of it {near_text} "
            f"({len(reached99)}/{len(ratios[p])})"
        )


if __name__ == "__main__":
    main()
