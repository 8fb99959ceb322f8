"""MLflow set-up: experiments made for model training, the saved view the UI opens, and no
set-up chatter on the terminal unless `verbose`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError
from green_ai.logs import quiet_libraries
from green_ai.tracking.mlflow_setup import EXPERIMENT_KIND_TAG, setup_tracking
from green_ai.tracking.ui import (
    TRAINING_VIEW,
    VIEW_TAG,
    compare_url,
    ensure_training_view,
    experiment_url,
)


@pytest.fixture(autouse=True)
def _quiet_again() -> None:
    yield
    quiet_libraries(False)


def tracking(tmp_path: Path, name: str = "green_ai") -> TrackingConfig:
    return TrackingConfig(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment=name)


def test_a_new_experiment_is_a_model_training_one(tmp_path: Path) -> None:
    experiment_id = setup_tracking(tracking(tmp_path))
    tags = MlflowClient().get_experiment(experiment_id).tags
    assert tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    assert setup_tracking(tracking(tmp_path)) == experiment_id  # found again, not re-made


def test_an_older_experiment_gets_the_tag_and_a_chosen_kind_is_kept(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    old = client.create_experiment("old")  # as versions before the tag made it
    chosen = client.create_experiment("chosen", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    assert setup_tracking(tracking(tmp_path, "old")) == old
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    setup_tracking(tracking(tmp_path, "chosen"))
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "genai_development"


def test_a_deleted_experiment_fails_on_one_line_with_the_fix(tmp_path: Path) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    client.delete_experiment(client.create_experiment("gone"))
    with pytest.raises(UserError, match="mlflow experiments restore --experiment-id"):
        setup_tracking(tracking(tmp_path, "gone"))


def test_the_training_view_is_saved_once_and_a_persons_edit_kept(tmp_path: Path) -> None:
    experiment_id = setup_tracking(tracking(tmp_path))
    client = MlflowClient()
    ensure_training_view(client, experiment_id)
    envelope = json.loads(client.get_experiment(experiment_id).tags[VIEW_TAG])
    # The envelope MLflow's web app reads from `mlflow.sharedViewState.<key>` tags.
    assert isinstance(envelope["name"], str) and isinstance(envelope["createdAt"], int)
    state = json.loads(envelope["state"])
    assert state == TRAINING_VIEW
    assert {"metrics.`best_accuracy`", "metrics.`energy_j`"} <= set(state["selectedColumns"])
    client.set_experiment_tag(experiment_id, VIEW_TAG, "edited in the UI")
    ensure_training_view(client, experiment_id)
    assert client.get_experiment(experiment_id).tags[VIEW_TAG] == "edited in the UI"


def test_the_addresses_open_the_training_view() -> None:
    url = experiment_url("7", "http://host:5000/")
    assert url == (
        "http://host:5000/#/experiments/7/runs?workflowType=machine_learning"
        "&viewStateShareKey=green_ai"
    )
    compare = compare_url("7", ["a", "b"])
    assert '"a"' in compare.replace("%22", '"') and "workflowType=machine_learning" in compare


@pytest.mark.parametrize("verbose", [False, True])
def test_store_creation_chatter_only_when_verbose(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, verbose: bool
) -> None:
    caplog.set_level(logging.INFO)
    quiet_libraries(verbose)
    setup_tracking(tracking(tmp_path))
    created = [r for r in caplog.records if "Creating initial MLflow database" in r.getMessage()]
    assert bool(created) == verbose
    # What MLflow does log reaches our handlers (one format), not a handler of its own.
    assert logging.getLogger("mlflow").handlers == []
    assert logging.getLogger("mlflow").propagate
