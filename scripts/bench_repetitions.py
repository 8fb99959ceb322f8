"""Adaptive repetitions as an energy lever: joules of `repetitions=auto` against a fixed 24.

For every seed, the same small study (random search, so both draw the same hyperparameters in
the same order) runs twice on synthetic data on the CPU, through `run_study` as
`python -m green_ai.train` would: once with `repetitions=24` (the thesis's design), once with
`repetitions=auto design.target_ci=...` (rounds stop once the half-width of the 95 % interval of
their mean joules per repetition is within target_ci of it). Reported per study: repetitions per
round, joules spent, the mean joules per repetition and the interval's relative half-width its
rounds reached; then auto / fixed for the joules spent and for the mean per repetition (which
should stay near 1: stopping early must not bias the figure).

    python scripts/bench_repetitions.py                    # 3 seeds × 4 rounds
    python scripts/bench_repetitions.py --target-ci 0.02 --seeds 0 1
    python scripts/bench_repetitions.py --smoke            # one seed, tiny rounds

Energy is `energy=estimate` (CPU time × watts per core; no sensor on the build machine): its
spread between repetitions is this machine's noise in CPU time.
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


from _cpu_study import run_cpu_study  # noqa: E402

from green_ai.config.store import register_configs  # noqa: E402


@dataclass(frozen=True)
class Result:
    mode: str
    seed: int
    reps_per_round: float
    energy_j: float
    per_rep_j: float
    ci_rel: float
    seconds: float


def study(args: argparse.Namespace, mode: str, seed: int, store: Path) -> Result:
    adaptive = [
        "repetitions=auto",
        f"design.target_ci={args.target_ci}",
        f"design.min_repetitions={args.min_repetitions}",
        f"design.max_repetitions={args.fixed}",
    ]
    overrides = [
        "dataset=synthetic",
        f"dataset.train_samples={args.samples}",
        f"dataset.test_samples={args.samples // 2}",
        f"epochs={args.epochs}",
        f"rounds={args.rounds}",
        *(adaptive if mode == "auto" else [f"repetitions={args.fixed}"]),
        f"conv={args.conv}",
        "linear=2",
        "search=random",
        f"seed={seed}",
    ]
    ran = run_cpu_study(overrides, store)
    outcome, seconds = ran.outcome, ran.seconds
    trials = ran.trials
    attrs = [t.user_attrs for t in trials if t.state.is_finished()]
    return Result(
        mode=mode,
        seed=seed,
        reps_per_round=statistics.fmean(a["repetitions_run"] for a in attrs),
        energy_j=outcome.energy_j or 0.0,
        per_rep_j=statistics.fmean(a["rep_energy_mean_j"] for a in attrs),
        ci_rel=statistics.fmean(a["rep_energy_ci_rel"] for a in attrs),
        seconds=seconds,
    )


# --smoke: one seed, two tiny rounds, "fixed" 3 against auto between 2 and 3.
SMOKE = {"seeds": [0], "rounds": 2, "epochs": 1, "fixed": 3, "min_repetitions": 2, "samples": 64}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--fixed", type=int, default=24, help="the fixed design's repetitions")
    parser.add_argument("--target-ci", type=float, default=0.05)
    parser.add_argument("--min-repetitions", type=int, default=3)
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
        f"random search, {args.rounds} rounds × {args.epochs} epochs, SimpleCNN "
        f"conv={args.conv} linear=2, {args.samples} synthetic images, CPU, energy=estimate; "
        f"fixed: repetitions={args.fixed}; auto: design.target_ci={args.target_ci:g}, "
        f"{args.min_repetitions} to {args.fixed} repetitions"
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench_repetitions_") as tmp, contextlib.chdir(tmp):
        for seed in args.seeds:
            # Alternate which runs first, so a process's cold start costs neither mode alone.
            modes = ("fixed", "auto") if seed % 2 == 0 else ("auto", "fixed")
            results += [study(args, mode, seed, Path(tmp)) for mode in modes]
    header = (
        f"{'seed':>4}  {'mode':<5} {'reps/round':>10} {'joules':>9} {'J/rep':>8} "
        f"{'ci_rel':>7} {'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.seed:>4}  {r.mode:<5} {r.reps_per_round:>10.1f} {r.energy_j:>9.1f} "
            f"{r.per_rep_j:>8.2f} {r.ci_rel:>7.3f} {r.seconds:>7.1f}"
        )
    fixed = {r.seed: r for r in results if r.mode == "fixed"}
    auto = [r for r in results if r.mode == "auto"]
    spent = statistics.median(r.energy_j / fixed[r.seed].energy_j for r in auto)
    per_rep = statistics.median(r.per_rep_j / fixed[r.seed].per_rep_j for r in auto)
    saved = statistics.median(fixed[r.seed].energy_j - r.energy_j for r in auto)
    print(
        f"median over seeds (auto / fixed): joules {spent:.2f} ({saved:.1f} J saved); "
        f"joules per repetition {per_rep:.2f}"
    )


if __name__ == "__main__":
    main()
