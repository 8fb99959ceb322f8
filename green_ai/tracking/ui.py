"""What MLflow's UI opens on: the training view, with accuracy and joules in sight.

MLflow 3.17's UI has a global "GenAI | Model training" switch that starts on GenAI (traces,
judges) in a new browser, whatever the experiment's `mlflow.experimentKind` tag says, and its
runs table shows only Source, Models and Dataset until columns are picked by hand. Both are
chosen by the page address: `workflowType=machine_learning` opens the training view, and
`viewStateShareKey=<key>` opens a view saved on the experiment (the UI's "Views" menu). Each
training experiment carries such a view (`TRAINING_VIEW`): the study runs, best accuracy
first, next to their joules; `experiment_url` is the address that opens it.
"""

from __future__ import annotations

import json
import time
from typing import Any

# The UI reads saved views from experiment tags named `mlflow.sharedViewState.<key>`, each an
# envelope {name, createdAt, updatedAt, state} around the page state (MLflow 3.x web app).
VIEW_KEY = "green_ai"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
VIEW_NAME = "green_ai: accuracy and joules per study"
DEFAULT_UI = "http://127.0.0.1:5000"


def _metric(key: str) -> str:
    return f"metrics.`{key}`"


def _param(key: str) -> str:
    return f"params.`{key}`"


# Study runs only (their rounds are one click away), the best first, with the numbers a person
# compares: accuracy, joules, joules per point of accuracy, and the factors.
TRAINING_VIEW: dict[str, Any] = {
    "searchFilter": "tags.`green_ai.kind` = 'train_study'",
    "orderByKey": _metric("best_accuracy"),
    "orderByAsc": False,
    "selectedColumns": [
        _metric("best_accuracy"),
        _metric("energy_j"),
        _metric("energy_per_point_j"),
        _metric("rounds_completed"),
        _metric("co2_g"),
        _param("conv"),
        _param("relu"),
        _param("linear"),
        _param("net"),
        _param("search"),
        _param("pruner"),
        _param("dataset"),
    ],
}


def view_tag_value(now_ms: int | None = None) -> str:
    """The experiment tag's value holding `TRAINING_VIEW`."""
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    envelope = {
        "name": VIEW_NAME,
        "createdAt": stamp,
        "updatedAt": stamp,
        "state": json.dumps(TRAINING_VIEW),
    }
    return json.dumps(envelope)


def ensure_training_view(client: Any, experiment_id: str) -> None:
    """Save `TRAINING_VIEW` on the experiment unless it has one (a person may have changed it
    in the UI: "Override saved view")."""
    experiment = client.get_experiment(experiment_id)
    if VIEW_TAG not in experiment.tags:
        client.set_experiment_tag(experiment_id, VIEW_TAG, view_tag_value())


def experiment_url(experiment_id: str, base: str = DEFAULT_UI) -> str:
    """The address of the experiment's runs in the training view, opened on `TRAINING_VIEW`."""
    return (
        f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs"
        f"?workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"
    )


def compare_url(experiment_id: str, run_ids: list[str], base: str = DEFAULT_UI) -> str:
    """The address of MLflow's compare page for `run_ids` (params and metrics side by side)."""
    from urllib.parse import quote

    runs = quote(json.dumps(run_ids))
    experiments = quote(json.dumps([experiment_id]))
    return (
        f"{base.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}"
        "&workflowType=machine_learning"
    )
