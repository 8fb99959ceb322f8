"""What optuna-dashboard serves for a study: named objectives, each epoch's accuracy, the
round's joules and its MLflow run, and the study's factors (read through its own WSGI app)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults

import optuna
from omegaconf import DictConfig
from optuna_dashboard import wsgi

from green_ai.train import train

Make = Callable[..., DictConfig]


def get(app: Any, path: str) -> dict[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": "after=0"}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    status: list[str] = []
    body = b"".join(app(environ, lambda s, headers, *rest: status.append(s)))
    assert status[0].startswith("200"), status
    return json.loads(body)  # type: ignore[no-any-return]


def test_the_dashboard_shows_objective_names_curves_and_joules(make_cfg: Make) -> None:
    cfg = make_cfg("energy=estimate", "energy.idle_s=0.2", "energy.settle_s=0", "epochs=2")
    outcome = train(cfg)
    study_id = optuna.load_study(
        study_name=outcome.study_name, storage=cfg.study.storage
    )._study_id
    detail = get(wsgi(cfg.study.storage), f"/api/studies/{study_id}")
    assert detail["objective_names"] == ["accuracy"]
    assert detail["has_intermediate_values"] is True
    study_attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    assert study_attrs["net"] == "simplecnn" and study_attrs["search"] == "random"
    for trial in detail["trials"]:
        assert [v["step"] for v in trial["intermediate_values"]] == [0, 1]
        attrs = {a["key"]: a["value"] for a in trial["user_attrs"]}
        assert {"energy_j", "energy_net_j", "duration_s", "co2_g", "mlflow_run_id"} <= set(attrs)
