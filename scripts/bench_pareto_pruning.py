"""Pareto pruning as an energy lever: joules an accuracy-and-energy study spends, and the
hypervolume of the front it finds, with and without `search.pruner=pareto`.

For every seed, the same study (`search.objectives=[accuracy,energy]`, random search over
Adam's learning rate and SimpleCNN's width, `hparams=adam_width`, so rounds differ in joules)
runs twice on synthetic data on the CPU, through `run_study`, as `python -m green_ai.train`
would: without a pruner and with `search.pruner=pareto` (its default options). Random search
draws the same rounds in both. Reported per study: rounds pruned, joules spent (pruned rounds'
included), the front's size and hypervolume, both studies of a seed measured from one
reference point (accuracy 0, the most joules any completed round of the two spent), and the
joules until the front first reached 95% of the unpruned study's hypervolume; each also as a
ratio to the unpruned study of the same seed: ratios measured in one run.

    python scripts/bench_pareto_pruning.py                    # 3 seeds
    python scripts/bench_pareto_pruning.py --seeds 0 --rounds 8
    python scripts/bench_pareto_pruning.py --smoke            # one seed, a few tiny rounds

Energy is `energy=estimate` (CPU time × watts per core; no sensor on the build machine), so
the joules are proportional to the CPU time each round used.
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
from optuna.trial import TrialState  # noqa: E402

from green_ai.analysis.pareto_tables import hypervolume, hypervolume_so_far  # noqa: E402
from green_ai.config.store import register_configs  # noqa: E402

PRUNERS = ("none", "pareto")
# The goal: at least a third of the joules saved, the hypervolume within 5%.
GOAL_ENERGY, GOAL_HV = 2 / 3, 0.95


@dataclass(frozen=True)
class Study:
    pruner: str
    seed: int
    pruned: int
    spent: list[float]  # joules of every finished round, in order (pruned ones' included)
    values: list[float]  # accuracy of COMPLETE rounds, NaN for the others
    energies: list[float]  # the energy objective of COMPLETE rounds, NaN for the others
    params: tuple[tuple[tuple[str, float], ...], ...]
    seconds: float

    @property
    def energy_j(self) -> float:
        return sum(self.spent)


def study(args: argparse.Namespace, pruner: str, seed: int, store: Path) -> Study:
    overrides = [
        "dataset=synthetic",
        f"dataset.train_samples={args.samples}",
        f"dataset.test_samples={args.samples // 2}",
        f"epochs={args.epochs}",
        f"rounds={args.rounds}",
        f"repetitions={args.repetitions}",
        "conv=1",
        "linear=2",
        "hparams=adam_width",
        "search=random",
        "search.objectives=[accuracy,energy]",
        f"search.pruner={pruner}",
        f"seed={seed}",
    ]
    ran = run_cpu_study(overrides, store)
    seconds = ran.seconds
    done = [t for t in ran.trials if t.state.is_finished()]
    nan = float("nan")
    return Study(
        pruner=pruner,
        seed=seed,
        pruned=sum(t.state == TrialState.PRUNED for t in done),
        spent=[float(t.user_attrs.get("energy_j", 0.0)) for t in done],
        values=[t.values[0] if t.state == TrialState.COMPLETE else nan for t in done],
        energies=[t.values[1] if t.state == TrialState.COMPLETE else nan for t in done],
        params=tuple(tuple(sorted(t.params.items())) for t in done),
        seconds=seconds,
    )


def reference(studies: list[Study]) -> tuple[float, float]:
    """Accuracy 0 and the most joules any completed round of these studies spent."""
    most = max(e for s in studies for e in s.energies if e == e)
    return 0.0, most


def joules_to(s: Study, ref: tuple[float, float], target: float) -> float | None:
    """Joules spent until the study's front first reached hypervolume `target`."""
    volumes = hypervolume_so_far(s.values, s.energies, ref, maximize=True)
    for k, volume in enumerate(volumes):
        if volume >= target * (1 - 1e-12):
            return sum(s.spent[: k + 1])
    return None


def front_size(s: Study) -> int:
    points = [(v, e) for v, e in zip(s.values, s.energies, strict=True) if v == v]
    return sum(
        not any(w >= v and f <= e and (w > v or f < e) for w, f in points) for v, e in points
    )


# --smoke: both studies on one seed, two tiny rounds (too few for any pruning).
SMOKE = {"seeds": [0], "rounds": 2, "epochs": 1, "repetitions": 1, "samples": 64}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=2)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--smoke", action="store_true", help="tiny settings: checks it runs")
    args = parser.parse_args(argv)
    if args.smoke:  # explicit arguments still win over the smoke settings
        parser.set_defaults(**SMOKE)
        args = parser.parse_args(argv)
    register_configs()
    import torch

    torch.set_num_threads(1)
    print(
        f"random search over lr and SimpleCNN channels 4-64 (hparams=adam_width), objectives "
        f"[accuracy,energy], {args.rounds} rounds × {args.repetitions} repetitions × "
        f"{args.epochs} epochs, conv=1 linear=2, {args.samples} synthetic images, CPU, "
        "1 torch thread, energy=estimate"
    )
    with tempfile.TemporaryDirectory(prefix="bench_pareto_") as tmp, contextlib.chdir(tmp):
        pairs = [{p: study(args, p, seed, Path(tmp)) for p in PRUNERS} for seed in args.seeds]
    table(pairs)


def table(pairs: list[dict[str, Study]]) -> None:
    header = (
        f"{'seed':>4}  {'pruner':<7} {'pruned':>6} {'joules':>8} {'× none':>6} {'front':>5} "
        f"{'hypervolume':>11} {'× none':>6} {'J to 95%':>9} {'× none':>6} {'ref J':>7} "
        f"{'time s':>7}"
    )
    print(header)
    print("-" * len(header))
    same, ratios = True, []
    for pair in pairs:
        base = pair["none"]
        ref = reference(list(pair.values()))
        base_hv = hypervolume(base.values, base.energies, ref, maximize=True)
        base_to = joules_to(base, ref, GOAL_HV * base_hv)
        for s in pair.values():
            same = same and s.params == base.params
            hv = hypervolume(s.values, s.energies, ref, maximize=True)
            to = joules_to(s, ref, GOAL_HV * base_hv)
            r_energy, r_hv = s.energy_j / base.energy_j, hv / base_hv if base_hv else 1.0
            r_to = to / base_to if to is not None and base_to else None
            if s.pruner != "none":
                ratios.append((r_energy, r_hv, r_to))
            print(
                f"{s.seed:>4}  {s.pruner:<7} {s.pruned:>6} {s.energy_j:>8.1f} {r_energy:>6.2f} "
                f"{front_size(s):>5} {hv:>11.2f} {r_hv:>6.3f} "
                f"{'never' if to is None else f'{to:.1f}':>9} "
                f"{'n/a' if r_to is None else f'{r_to:.2f}':>6} {ref[1]:>7.2f} {s.seconds:>7.1f}"
            )
    print(
        "both studies of every seed drew the same hyperparameters, in the same order"
        if same
        else "warning: the pruned study drew other hyperparameters than the unpruned one"
    )
    met = sum(e <= GOAL_ENERGY and h >= GOAL_HV for e, h, _ in ratios)
    reached = [t for _, _, t in ratios if t is not None]
    print("\nmedian over seeds (pareto / none):")
    print(
        f"  joules {statistics.median(e for e, _, _ in ratios):.2f}; hypervolume "
        f"{statistics.median(h for _, h, _ in ratios):.3f}; joules to 95% of the unpruned "
        f"hypervolume {f'{statistics.median(reached):.2f}' if reached else 'never'} (reached in "
        f"{len(reached)}/{len(ratios)} seeds)"
    )
    print(
        f"goal (joules ≤ {GOAL_ENERGY:.2f} ×, hypervolume ≥ {GOAL_HV:.2f} ×): met in "
        f"{met}/{len(ratios)} seeds"
    )


if __name__ == "__main__":
    main()
