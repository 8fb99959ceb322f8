"""Studies end to end on tiny synthetic data: MLflow runs, resume, failures, validation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig

from green_ai.config.store import train_settings
from green_ai.errors import UserError
from green_ai.search import rounds as rounds_module
from green_ai.search import study as study_module
from green_ai.search import study_name
from green_ai.search.storage import study_lock
from green_ai.search.workers import Terminated
from green_ai.tracking import StudyRuns
from green_ai.train import train
from green_ai.training import DivergedError

Make = Callable[..., DictConfig]


def runs_of(cfg: DictConfig) -> tuple[list, list]:
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags["green_ai.kind"] == "train_study"]
    rounds = [r for r in runs if r.data.tags["green_ai.kind"] == "train_round"]
    return parents, rounds


def test_study_tracks_parent_and_rounds_then_resumes(make_cfg: Make) -> None:
    cfg = make_cfg()
    outcome = train(cfg)
    assert outcome.rounds_completed == 2 and outcome.new_rounds == 2
    parents, rounds = runs_of(cfg)
    assert len(parents) == 1 and len(rounds) == 2
    parent = parents[0]
    for key in (
        "net",
        "conv",
        "linear",
        "relu",
        "dataset",
        "search",
        "hparams",
        "epochs",
        "rounds",
        "repetitions",
        "seed",
        "batch_size",
    ):
        assert key in parent.data.params, key
    assert parent.data.params["net"] == "simplecnn"
    assert parent.data.params["pruner"] == "none"
    # What a person compares, plus the config's hash; the full config is the artifact only.
    # Of the dotted keys only the run order, which every study logs (sequential here).
    assert sorted(k for k in parent.data.params if "." in k) == ["design.order", "design.seed"]
    assert parent.data.params["design.order"] == "sequential"
    assert len(parent.data.params["config_hash"]) == 12
    assert parent.info.run_name == "conv1 relu1 lin2 simplecnn random"
    assert parent.data.tags["study_name"] == outcome.study_name
    assert parent.data.metrics["rounds_completed"] == 2
    assert parent.data.metrics["best_accuracy"] == pytest.approx(outcome.best_accuracy)
    assert {"git_commit", "device", "energy.backend", "study_name"} <= set(parent.data.tags)
    client = MlflowClient()
    artifacts = [a.path for a in client.list_artifacts(parent.info.run_id)]
    assert "config.yaml" in artifacts
    assert sorted(r.info.run_name for r in rounds) == [
        "round0 conv1 relu1 lin2 simplecnn random",
        "round1 conv1 relu1 lin2 simplecnn random",
    ]
    for r in rounds:
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert {"lr", "beta1", "beta2", "round"} <= set(r.data.params)
        assert 0.0 <= r.data.metrics["accuracy"] <= 1.0
        assert "duration_s" in r.data.metrics
        history = client.get_metric_history(r.info.run_id, "test_accuracy")
        assert sorted(m.step for m in history) == [0, 1]  # 2 repetitions × 1 epoch
        assert len(client.get_metric_history(r.info.run_id, "train_loss")) == 2
        # energy=none: durations only, no energy metric at all (never a 0)
        assert not any("energy" in k for k in r.data.metrics)
    # The round's accuracy is the mean of its repetitions.
    for r in rounds:
        reps = [m.value for m in client.get_metric_history(r.info.run_id, "rep_accuracy")]
        assert r.data.metrics["accuracy"] == pytest.approx(sum(reps) / len(reps))

    again = train(cfg)
    assert again.new_rounds == 0 and again.rounds_completed == 2
    assert again.parent_run_id == outcome.parent_run_id
    assert len(runs_of(cfg)[1]) == 2

    more = make_cfg("rounds=3")
    assert study_name(more) == study_name(cfg)
    extended = train(more)
    assert extended.new_rounds == 1 and extended.rounds_completed == 3
    parents, rounds = runs_of(cfg)
    assert len(parents) == 1 and len(rounds) == 3
    assert parents[0].data.tags["resumed_with.rounds"] == "3"
    # resumed rounds draw new hyperparameters, not the first round's again
    lrs = {r.data.params["lr"] for r in rounds}
    assert len(lrs) == 3


def test_optuna_dashboard_sees_a_green_study(make_cfg: Make) -> None:
    cfg = make_cfg("energy=estimate", "energy.idle_s=0.2", "energy.settle_s=0", "epochs=2")
    outcome = train(cfg)
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    assert study.metric_names == ["accuracy"]
    assert {
        "net": "simplecnn",
        "conv": 1,
        "linear": 2,
        "relu": 1,
        "dataset": "synthetic",
        "search": "random",
        "hparams": "adam3",
        "pruner": "none",
        "mlflow_run_id": outcome.parent_run_id,
    }.items() <= study.user_attrs.items()
    parents, rounds = runs_of(cfg)
    by_id = {r.info.run_id: r for r in rounds}
    client = MlflowClient()
    for t in study.trials:
        attrs = t.user_attrs
        run = by_id[attrs["mlflow_run_id"]]
        for key in ("energy_j", "energy_net_j", "duration_s", "co2_g"):
            assert attrs[key] == pytest.approx(run.data.metrics[key]), key
        assert attrs["energy_net_j"] < attrs["energy_j"]
        # Each epoch's test accuracy of the first repetition, at the epoch's MLflow step.
        history = client.get_metric_history(run.info.run_id, "test_accuracy")
        first_rep = {m.step: m.value for m in history if m.step < 2}
        assert t.intermediate_values == pytest.approx(first_rep)
        assert sorted(t.intermediate_values) == [0, 1]
    # The study's run lists best_accuracy and energy_j before anything else: MLflow's compare
    # page plots the first metric it is given.
    assert list(parents[0].data.metrics)[:2] == ["best_accuracy", "energy_j"]


def test_study_name_follows_the_config(make_cfg: Make) -> None:
    base = study_name(make_cfg())
    assert study_name(make_cfg("progress=log", "energy=estimate")) == base
    assert study_name(make_cfg("conv=2")) != base
    assert study_name(make_cfg("hparams=adam5")) != base
    assert study_name(make_cfg("study.name=mine")) == "mine"


def test_a_failed_repetition_fails_the_round_and_the_study_goes_on(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rounds_module.TaskRunner.__call__
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # the second repetition of round 0
            raise DivergedError("training loss became nan in epoch 0")
        return real(*args, **kwargs)

    monkeypatch.setattr(rounds_module.TaskRunner, "__call__", flaky)
    cfg = make_cfg("rounds=2")
    outcome = train(cfg)
    assert outcome.rounds_completed == 2
    storage = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    states = [t.state for t in storage.trials]
    # The failed round is recorded, not counted, and redone: rounds=2 means two results.
    assert states == [
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.COMPLETE,
    ]
    assert "diverged" in storage.trials[0].user_attrs["fail_reason"]
    _, rounds = runs_of(cfg)
    failed = [r for r in rounds if r.data.tags["state"] == "FAIL"]
    assert len(failed) == 1 and failed[0].info.status == "FAILED"
    assert "nan" in failed[0].data.tags["fail_reason"]
    # the failed round keeps what it measured before failing
    assert "rep_accuracy" in failed[0].data.metrics
    # the study has its two rounds: a rerun has nothing to do
    assert train(cfg).new_rounds == 0


def test_estimated_energy_reaches_every_round_and_the_parent(make_cfg: Make) -> None:
    cfg = make_cfg("energy=estimate", "energy.idle_s=0.2", "energy.settle_s=0")
    train(cfg)
    parents, rounds = runs_of(cfg)
    for r in rounds:
        for key in ("energy_j", "power_mean_w", "co2_g"):
            assert r.data.metrics[key] > 0, key
        history = MlflowClient().get_metric_history(r.info.run_id, "epoch_energy_j")
        assert len(history) == 2
        # One idle-subtracted figure per training iteration, the factorial's unit (§3.5.2).
        net = MlflowClient().get_metric_history(r.info.run_id, "rep_energy_net_j")
        gross = MlflowClient().get_metric_history(r.info.run_id, "rep_energy_j")
        assert [m.step for m in net] == [m.step for m in gross] == [0, 1]
        assert all(n.value < g.value for n, g in zip(net, gross, strict=True))
        assert sum(m.value for m in history) <= r.data.metrics["energy_j"] * 1.0001
    parent = parents[0]
    assert parent.data.tags["energy.kind"] == "estimated"
    total = sum(r.data.metrics["energy_j"] for r in rounds)
    assert parent.data.metrics["energy_j"] == pytest.approx(total)
    cumulative = MlflowClient().get_metric_history(parent.info.run_id, "cumulative_energy_j")
    assert [m.step for m in sorted(cumulative, key=lambda m: m.step)] == [0, 1]
    assert max(m.value for m in cumulative) == pytest.approx(total)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("conv=-1", "conv=-1 must be an integer of at least 0"),
        ("conv=9", "at most 4 fit"),
        ("rounds=0", "rounds=0 must be an integer of at least 1"),
        ("relu=2", "relu=2 must be 0"),
        ("search.objectives=[energy]", "search.objectives"),
        ("progress=plain", "progress='plain' is not one of auto, bar, log, none"),
    ],
)
def test_bad_overrides_fail_before_training(
    make_cfg: Make, override: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        train(make_cfg(override))
    assert not (tmp_path / "studies.db").exists()


def test_workers_sharing_a_study_draw_different_hyperparameters(make_cfg: Make) -> None:
    train(make_cfg("rounds=1", "repetitions=1"))  # one round done before the workers join
    drawn = []
    for worker in (1, 2):
        cfg = make_cfg("rounds=3", f"study.worker={worker}")
        loop = study_module.StudyLoop(train_settings(cfg), None, meter=None)  # type: ignore[arg-type]
        trial = loop.study.ask()
        drawn.append(study_module.suggest(trial, loop.space))
    assert drawn[0] != drawn[1]


def test_a_study_that_breaks_marks_its_parent_run_failed_and_the_rerun_redoes_the_round(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rounds_module.TaskRunner.__call__

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise UserError("the data vanished")

    monkeypatch.setattr(rounds_module.TaskRunner, "__call__", broken)
    cfg = make_cfg()
    with pytest.raises(UserError, match="vanished"):
        train(cfg)
    parents, rounds = runs_of(cfg)
    assert parents[0].info.status == "FAILED"
    assert "the data vanished" in parents[0].data.tags["stop_reason"]
    # The round is recorded as failed, not left running, and it is not counted.
    assert [r.info.status for r in rounds] == ["FAILED"]
    study = optuna.load_study(study_name=study_name(cfg), storage=cfg.study.storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]
    assert "the data vanished" in study.trials[0].user_attrs["fail_reason"]

    monkeypatch.setattr(rounds_module.TaskRunner, "__call__", real)
    outcome = train(cfg)
    assert outcome.rounds_completed == 2 and outcome.new_rounds == 2


def test_a_round_failed_by_its_live_worker_keeps_its_run_for_that_worker_to_close(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another worker reserves a round between a live worker failing its round in Optuna and
    # closing the round's MLflow run (its worker closes it outside the study's lock). Closed
    # by the other as KILLED, the round would show as cut short instead of FAILED.
    def diverged(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise DivergedError("training loss became nan in epoch 0")

    loops: list[study_module.StudyLoop] = []
    real_run = study_module.StudyLoop.run

    def run(self: study_module.StudyLoop) -> object:
        loops.append(self)
        return real_run(self)

    seen: list[str] = []
    looked = threading.Event()
    real_finish = StudyRuns.finish_round

    def finish_round(self: StudyRuns, run_id: str, **kwargs: object) -> None:
        if kwargs.get("failed_reason") and not looked.is_set():
            looked.set()
            with study_lock(loops[0].url, loops[0].name):
                loops[0]._settle_lost_rounds()  # what a worker reserving a round does
            seen.append(self.client.get_run(run_id).info.status)
        real_finish(self, run_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rounds_module.TaskRunner, "__call__", diverged)
    monkeypatch.setattr(study_module.StudyLoop, "run", run)
    monkeypatch.setattr(StudyRuns, "finish_round", finish_round)
    outcome = train(make_cfg("rounds=1"))
    assert outcome.rounds_completed == 0
    assert seen == ["RUNNING"]
    _, rounds = runs_of(make_cfg("rounds=1"))
    assert {(r.info.status, r.data.tags["state"]) for r in rounds} == {("FAILED", "FAIL")}


@pytest.mark.parametrize("where", ["suggest", "heartbeat"])
def test_a_sigterm_between_taking_a_round_and_training_it_records_the_round(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # SIGTERM arrives while the round's hyperparameters are drawn (under the study's lock), or
    # once they are, before its MLflow run exists: the round must not stay RUNNING.
    def terminated(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Terminated("terminated (SIGTERM)")

    real = getattr(study_module, where)
    monkeypatch.setattr(study_module, where, terminated)
    cfg = make_cfg()
    with pytest.raises(Terminated):
        train(cfg)
    study = optuna.load_study(study_name=study_name(cfg), storage=cfg.study.storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]
    assert study.trials[0].user_attrs["fail_reason"] == "terminated (SIGTERM)"
    parents, rounds = runs_of(cfg)
    assert parents[0].info.status == "KILLED"
    assert [(r.info.status, r.data.tags["state"]) for r in rounds] == [("KILLED", "FAIL")]
    assert rounds[0].data.tags["round"] == "0"

    monkeypatch.setattr(study_module, where, real)
    outcome = train(cfg)
    assert outcome.rounds_completed == 2 and outcome.new_rounds == 2
    assert len(runs_of(cfg)[1]) == 3  # the killed round's run, and the two that counted
