"""Pareto pruning: the rule on curves kept in the study's storage (seen by every worker and
by a resumed study), and a pruned round of an accuracy-and-energy study recorded as PRUNED,
counted, its joules kept, never on the front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig
from optuna.study import StudyDirection
from optuna.trial import TrialState

from green_ai.config.store import train_settings
from green_ai.search import study_name
from green_ai.search.pareto_pruning import CURVE_ENERGY, CURVE_VALUES, ParetoPruner
from green_ai.search.pruning import build_pruner
from green_ai.train import train

Make = Callable[..., DictConfig]
ESTIMATE = ["energy=estimate", "energy.idle_s=0"]
PARETO = ["search.objectives=[accuracy,energy]", "search.pruner=pareto"]
MAX_MIN = [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]


def finished(study: optuna.Study, values: list[float], joules: list[float]) -> None:
    """A COMPLETE round with this first-repetition curve (joules per epoch)."""
    cumulative = [sum(joules[: i + 1]) for i in range(len(joules))]
    trial = optuna.trial.create_trial(
        values=[values[-1], cumulative[-1]],
        user_attrs={CURVE_VALUES: values, CURVE_ENERGY: cumulative},
    )
    study.add_trial(trial)


def feed(pruner: ParetoPruner, trial: optuna.Trial, values: list[float], joules: list[float]):
    """Epochs as a round reports them: the value inside the epoch, its joules at its end."""
    for epoch, (value, spent) in enumerate(zip(values, joules, strict=False)):
        pruner.report_value(trial, epoch, value)
        if epoch < len(values) - 1:
            pruner.report_energy(trial, epoch, spent)


@pytest.fixture
def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/studies.db"


def new_study(storage: str, directions: list[StudyDirection] = MAX_MIN) -> optuna.Study:
    return optuna.create_study(study_name="s", storage=storage, directions=directions)


@pytest.mark.parametrize(
    ("values", "joules", "pruned"),
    [
        ([0.2, 0.3], [2.0, 2.0], True),  # 0.3 behind 0.6 at epoch 1, and no cheaper
        ([0.2, 0.59], [2.0, 2.0], False),  # behind by less than the margin
        ([0.2, 0.3], [0.5, 0.5], False),  # cheaper: it may still join the front
        ([0.2, 0.3], [1.0, 9.0], True),  # equal cost over epoch 0 decides on accuracy
    ],
)
def test_a_round_dominated_at_the_same_epoch_is_pruned(
    storage: str, values: list[float], joules: list[float], pruned: bool
) -> None:
    study = new_study(storage)
    finished(study, [0.4, 0.6, 0.8], [1.0, 1.0, 1.0])
    pruner = ParetoPruner(n_startup_trials=1, margin=0.02)
    trial = study.ask()
    feed(pruner, trial, values, joules)
    assert pruner.should_prune_at(trial, 1) is pruned
    # Optuna's interface reads the same stored curve.
    assert pruner.prune(study, study.trials[-1]) is pruned


def test_no_judgement_before_startup_rounds_or_on_unmeasured_epochs(storage: str) -> None:
    study = new_study(storage)
    finished(study, [0.9, 0.9, 0.9], [1.0, 1.0, 1.0])
    trial = study.ask()
    feed(ParetoPruner(), trial, [0.1, 0.1, 0.1], [5.0, 5.0, 5.0])
    assert not ParetoPruner(n_startup_trials=2).should_prune_at(trial, 2)  # one round done
    assert not ParetoPruner(n_startup_trials=1, n_warmup_steps=3).should_prune_at(trial, 2)
    # Epoch 0's joules are unknown when it reports (its window is open): never judged.
    assert not ParetoPruner(n_startup_trials=1, n_warmup_steps=0).should_prune_at(trial, 0)
    assert ParetoPruner(n_startup_trials=1, n_warmup_steps=0).should_prune_at(trial, 1)
    # A round whose epochs measured no joules is never judged on energy.
    blind = study.ask()
    ParetoPruner().report_energy(blind, 0, None)
    ParetoPruner().report_value(blind, 1, 0.1)
    assert blind.user_attrs[CURVE_ENERGY] == [None]
    assert not ParetoPruner(n_startup_trials=1).should_prune_at(blind, 1)


def test_a_minimised_first_objective_is_mirrored(storage: str) -> None:
    study = new_study(storage, [StudyDirection.MINIMIZE, StudyDirection.MINIMIZE])
    finished(study, [2.0, 1.0], [1.0, 1.0])  # a loss
    pruner = ParetoPruner(n_startup_trials=1, margin=0.1)
    worse, better = study.ask(), study.ask()
    feed(pruner, worse, [2.0, 1.5], [3.0, 3.0])
    feed(pruner, better, [2.0, 0.5], [3.0, 3.0])
    assert pruner.should_prune_at(worse, 1) and not pruner.should_prune_at(better, 1)


def test_workers_sharing_the_storage_see_each_others_curves(storage: str) -> None:
    # Two workers: each its own Study object on the same storage and its own pruner.
    a = new_study(storage)
    b = optuna.load_study(study_name="s", storage=storage)
    pruner_a, pruner_b = ParetoPruner(n_startup_trials=1), ParetoPruner(n_startup_trials=1)
    first = a.ask()
    feed(pruner_a, first, [0.5, 0.7, 0.9], [1.0, 1.0, 1.0])
    pruner_a.report_energy(first, 2, 1.0)
    a.tell(first, [0.9, 3.0])
    assert first.user_attrs[CURVE_ENERGY] == pytest.approx([1.0, 2.0, 3.0])  # cumulative
    other = b.ask()
    feed(pruner_b, other, [0.1, 0.2], [4.0, 4.0])
    assert pruner_b.should_prune_at(other, 1)
    # A round still running in another worker is no reference: only COMPLETE rounds are.
    running = b.ask()
    feed(pruner_b, running, [0.95, 0.99, 0.99], [0.1, 0.1, 0.1])
    late = a.ask()
    feed(pruner_a, late, [0.6, 0.8], [2.0, 2.0])
    assert not pruner_a.should_prune_at(late, 1)


def test_pareto_pruner_by_name_with_its_options(make_cfg: Make) -> None:
    s = train_settings(make_cfg(*ESTIMATE, *PARETO, "+search.pruner_options.margin=0.05"))
    pruner = build_pruner(s.search, epochs=s.epochs)
    assert isinstance(pruner, ParetoPruner) and pruner.margin == 0.05


DOMINATED = [
    *ESTIMATE,
    *PARETO,
    "hparams=adam_width",
    "+search.pruner_options.n_startup_trials=1",
    "epochs=3",
    "repetitions=2",
    "dataset.train_samples=512",
]


def enqueue_rounds(cfg: DictConfig, rounds: int) -> None:
    """Round 0 narrow and learning; every later one wide (about 10× the joules an epoch) and
    learning nothing (lr 1e-5): dominated by round 0 at epoch 1."""
    study = optuna.create_study(
        study_name=study_name(cfg),
        storage=cfg.study.storage,
        directions=MAX_MIN,
        load_if_exists=True,
    )
    if not study.trials:
        study.enqueue_trial({"lr": 3e-3, "channels": 4})
    for _ in range(rounds - len(study.trials)):
        study.enqueue_trial({"lr": 1e-5, "channels": 64})


def run_with_a_dominating_round(make_cfg: Make, rounds: int) -> tuple[DictConfig, optuna.Study]:
    cfg = make_cfg(*DOMINATED, f"rounds={rounds}")
    enqueue_rounds(cfg, rounds)
    train(cfg)
    return cfg, optuna.load_study(study_name=study_name(cfg), storage=cfg.study.storage)


@pytest.mark.slow
def test_a_pruned_round_is_recorded_counted_and_off_the_front(
    make_cfg: Make, tmp_path: Path
) -> None:
    cfg, study = run_with_a_dominating_round(make_cfg, rounds=2)
    first, wide = study.trials
    assert first.state == TrialState.COMPLETE and wide.state == TrialState.PRUNED
    assert wide.user_attrs["pruned_epoch"] == 1  # the first epoch that can be judged
    assert len(first.user_attrs[CURVE_VALUES]) == 3  # the first repetition's 3 epochs
    assert wide.user_attrs["energy_j"] > first.user_attrs[CURVE_ENERGY][0]

    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags["green_ai.kind"] == "train_study")
    run = next(r for r in runs if r.data.tags.get("round") == "1")
    assert run.data.tags["state"] == "PRUNED" and run.data.metrics["pruned_epoch"] == 1
    assert run.data.metrics["energy_j"] == pytest.approx(wide.user_attrs["energy_j"])
    assert parent.data.params["objectives"] == "accuracy,energy"
    assert parent.data.params["pruner"] == "pareto"
    assert parent.data.metrics["rounds_completed"] == 2  # the pruned round counts
    path = client.download_artifacts(parent.info.run_id, "pareto_front.json", str(tmp_path))
    front = json.loads(Path(path).read_text())
    assert [t["number"] for t in front["trials"]] == [0]  # never a pruned round

    # Resumed (a new process would do the same): the stored curves still decide.
    _, study = run_with_a_dominating_round(make_cfg, rounds=3)
    assert [t.state for t in study.trials][2] == TrialState.PRUNED
    assert study.trials[2].user_attrs["pruned_epoch"] == 1


@pytest.mark.slow
def test_two_worker_processes_prune_on_each_others_curves(make_cfg: Make, tmp_path: Path) -> None:
    rounds = 8
    stores = [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"]
    stores.append(f"study.storage=sqlite:///{tmp_path}/studies.db")
    args = [*DOMINATED, "dataset=synthetic", "dataset.test_samples=128", "device=cpu"]
    args += ["progress=none", "conv=1", "linear=2", "batch_size=64", *stores]
    cfg = make_cfg(*args, f"rounds={rounds}")
    enqueue_rounds(cfg, rounds)

    def workers(n: int, count: int) -> None:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "green_ai.train",
                    *args,
                    f"rounds={n}",
                    f"study.worker={w}",
                ],
                cwd=tmp_path,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for w in range(count)
        ]
        outputs = [p.communicate(timeout=900)[0] for p in procs]
        assert [p.returncode for p in procs] == [0] * count, "".join(o[-2000:] for o in outputs)

    workers(1, 1)  # round 0 in a process of its own
    workers(rounds, 2)  # then two workers share the rest
    study = optuna.load_study(study_name=study_name(cfg), storage=cfg.study.storage)
    first, *wide = study.trials
    assert first.state == TrialState.COMPLETE and len(wide) == rounds - 1
    # Each worker read round 0's curve, written by another process, from the storage.
    assert all(t.state == TrialState.PRUNED and t.user_attrs["pruned_epoch"] == 1 for t in wide)
    pids = {t.user_attrs["worker_pid"] for t in wide}
    assert len(pids) == 2 and first.user_attrs["worker_pid"] not in pids
