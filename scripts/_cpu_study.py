"""What the benchmarks of whole studies on the CPU share (bench_pruning.py,
bench_repetitions.py, bench_pareto_pruning.py): one study composed from `conf/` as
`python -m green_ai.train` would compose it, on the CPU with estimated joules and its own
tracking and study databases, run through `run_study`.

Not a script: the benchmarks import it (they put this folder and the repository on sys.path).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from green_ai.search import StudyOutcome, run_study

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Ran:
    """A study that ran: what `run_study` returned, its wall time, its trials by number."""

    outcome: StudyOutcome
    seconds: float
    trials: list[optuna.trial.FrozenTrial]


def cpu_overrides(store: Path) -> list[str]:
    """Estimated joules on the CPU (no sensor on the build machine: joules proportional to
    the CPU time used), no idle baseline, no progress output, databases under `store`."""
    return [
        "energy=estimate",
        "energy.idle_s=0",
        "device=cpu",
        "progress=none",
        f"tracking.uri=sqlite:///{store}/mlflow.db",
        f"study.storage=sqlite:///{store}/studies.db",
    ]


def run_cpu_study(overrides: Sequence[str], store: Path) -> Ran:
    """Compose `config` with `overrides` (then the CPU ones) and run the study."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, *cpu_overrides(store)])
    with open_dict(cfg):
        cfg.pop("hydra", None)
    started = time.perf_counter()
    outcome = run_study(cfg)
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    return Ran(outcome, seconds, trials)
