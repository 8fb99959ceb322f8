"""Studies that stop on an energy budget, end with the grid, or trade accuracy for joules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig

from green_ai.errors import UserError
from green_ai.train import train

Make = Callable[..., DictConfig]
ESTIMATE = ["energy=estimate", "energy.idle_s=0"]


def parent_run(cfg: DictConfig, run_id: str) -> mlflow.entities.Run:
    mlflow.set_tracking_uri(cfg.tracking.uri)
    return MlflowClient().get_run(run_id)


def test_energy_budget_ends_the_study_after_the_round_that_reaches_it(make_cfg: Make) -> None:
    cfg = make_cfg(*ESTIMATE, "rounds=5", "search.energy_budget_j=1e-9")
    outcome = train(cfg)
    assert outcome.rounds_completed == 1  # the round in flight completes, then the study ends
    assert outcome.stop_reason is not None and "energy budget reached" in outcome.stop_reason
    tags = parent_run(cfg, outcome.parent_run_id).data.tags
    assert "energy budget reached" in tags["stop_reason"]
    # a rerun with a larger budget goes on from where it stopped
    more = train(make_cfg(*ESTIMATE, "rounds=2", "search.energy_budget_j=1e6"))
    assert more.new_rounds == 1 and more.rounds_completed == 2


def test_grid_study_ends_with_the_grid(make_cfg: Make) -> None:
    cfg = make_cfg(
        "search=grid",
        "search.sampler.grid_points=2",
        "~hparams.params.beta1",
        "~hparams.params.beta2",
        "rounds=4",
        "repetitions=1",
    )
    outcome = train(cfg)
    assert outcome.rounds_completed == 2
    assert outcome.stop_reason is not None and "grid is exhausted" in outcome.stop_reason
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    lrs = sorted(t.params["lr"] for t in study.trials)
    low, high = cfg.hparams.params.lr.low, cfg.hparams.params.lr.high
    assert lrs == pytest.approx([low, high])  # both bounds, each once


def test_accuracy_and_energy_study_logs_its_pareto_front(make_cfg: Make, tmp_path: Path) -> None:
    cfg = make_cfg(*ESTIMATE, "search.objectives=[accuracy,energy]", "rounds=3", "repetitions=1")
    outcome = train(cfg)
    assert outcome.rounds_completed == 3
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    assert len(study.directions) == 2
    assert study.metric_names == ["accuracy", "energy_j"]  # optuna-dashboard's axis names
    assert all(len(t.values) == 2 and t.values[1] > 0 for t in study.trials)
    client = MlflowClient()
    path = client.download_artifacts(outcome.parent_run_id, "pareto_front.json", str(tmp_path))
    front = json.loads(Path(path).read_text())
    assert front["objectives"] == ["accuracy", "energy"]
    numbers = {t["number"] for t in front["trials"]}
    assert numbers == {t.number for t in study.best_trials} and numbers


def test_energy_objective_needs_a_meter(make_cfg: Make) -> None:
    with pytest.raises(UserError, match="energy=none measures no joules"):
        train(make_cfg("search.objectives=[accuracy,energy]"))
