"""The MLflow observer: a study's runs as its loop tells what happens."""

from __future__ import annotations

from collections.abc import Callable

from mlflow import MlflowClient
from omegaconf import DictConfig
from optuna.trial import TrialState

from green_ai.config.store import train_settings
from green_ai.search.events import (
    EpochDone,
    RoundAbandoned,
    RoundDone,
    RoundMeasured,
    RoundStarted,
    StudyDone,
    StudyStarted,
    StudyTotals,
)
from green_ai.tracking.observer import MlflowObserver


def test_runs_exist_before_rounds_train_and_close_as_the_rounds_end(
    make_cfg: Callable[..., DictConfig],
) -> None:
    settings = train_settings(make_cfg())
    observer = MlflowObserver("conv1 study")
    attrs = observer.study_started(StudyStarted(settings, "s1", "", 0, {"device": "cpu"}))
    client = MlflowClient()
    parent = client.get_run(attrs["mlflow_run_id"])
    assert parent.info.experiment_id == attrs["mlflow_experiment_id"]
    assert parent.info.run_name == "conv1 study" and parent.data.tags["device"] == "cpu"

    round_id = observer.round_started(RoundStarted(0, {"lr": 0.01}))["mlflow_run_id"]
    assert client.get_run(round_id).info.status == "RUNNING"  # before the round trains
    observer.epoch_done(EpochDone(0, 1, 3, {"train_loss": 0.5}, "line"))
    observer.round_measured(RoundMeasured(0, {"accuracy": 0.8}, {"energy.kind": "estimated"}))
    observer.round_done(RoundDone(0, TrialState.PRUNED, "line"))
    run = client.get_run(round_id)
    assert run.info.status == "FINISHED" and run.data.tags["state"] == "PRUNED"
    assert run.data.metrics["accuracy"] == 0.8 and run.data.tags["energy.kind"] == "estimated"
    assert [m.step for m in client.get_metric_history(round_id, "train_loss")] == [3]

    # A round stopped before its run was made in this worker gets one, KILLED.
    observer.round_abandoned(RoundAbandoned(1, {"lr": 0.1}, "terminated (SIGTERM)", True))
    observer.study_totals(StudyTotals({"rounds_completed": 1.0}))
    observer.study_done(StudyDone(None, "others run the rest", {"stop_reason": "x"}, None, None))
    parent = client.get_run(attrs["mlflow_run_id"])
    assert parent.info.status == "RUNNING"  # status None: another worker closes it
    assert (
        parent.data.metrics["rounds_completed"] == 1.0 and parent.data.tags["stop_reason"] == "x"
    )
    (killed,) = [
        r
        for r in client.search_runs([attrs["mlflow_experiment_id"]])
        if r.data.tags.get("round") == "1"
    ]
    assert killed.info.status == "KILLED" and killed.data.tags["fail_reason"].startswith("term")
