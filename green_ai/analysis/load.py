"""Runs of one MLflow experiment as the report's frames (names: docs/architecture.md).

One `mlflow.search_runs` call brings every run, nested ones included; per-repetition metrics
(`rep_energy_net_j`, ...) come from the client's metric history only for the rounds a table
needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from green_ai.analysis.runs import (
    COUNTED_STATES,
    DESIGN_METRICS,
    INFERENCE_COLUMNS,
    INFERENCE_METRICS,
    INFERENCE_PARAMS,
    OVERRIDES,
    REP_KEYS,
    ROUND_COLUMNS,
    ROUND_METRICS,
    START_ORDER,
    STUDY_COLUMNS,
    Runs,
    empty,
)
from green_ai.errors import UserError
from green_ai.tracking import KIND_INFERENCE, KIND_TRAIN_ROUND, KIND_TRAIN_STUDY

KIND_TAG = "tags.green_ai.kind"
PARENT_TAG = "tags.mlflow.parentRunId"

STUDY_PARAMS = [
    c for c in STUDY_COLUMNS if c not in ("study_name", "pruner", "energy_kind", OVERRIDES)
]
# Names the report gives columns of its own: a param so named is not carried along.
OWN_COLUMNS = ("start_time", "energy_metric", "run_id")
# Columns the report adds to rounds: no objective's metric may take their name.
OWN_ROUND_COLUMNS = ("start_time", "_counted", "energy")
NUMERIC_STUDY_PARAMS = ("conv", "linear", "relu", "epochs", "rounds", "repetitions", "batch_size")


def load_experiment(uri: str | None, experiment: str) -> Runs:
    """Every run of an existing experiment, split into studies, rounds and inference runs."""
    experiment_id = open_experiment(uri, experiment)
    return split_runs(search_all(experiment_id), experiment)


def open_experiment(uri: str | None, experiment: str) -> str:
    """Point MLflow at the store and return the id of an existing experiment.

    Unlike training, the report never creates a store or an experiment: a typo must fail
    and list what exists.
    """
    import mlflow

    from green_ai.tracking.mlflow_setup import resolve_uri

    resolved = resolve_uri(uri)
    prefix = "sqlite:///"
    if resolved.startswith(prefix) and not Path(resolved[len(prefix) :]).exists():
        raise UserError(
            f"no MLflow store at {resolved[len(prefix) :]}: run training or inference first, "
            "point tracking.uri (or MLFLOW_TRACKING_URI) at the store, or give input=FILE.csv"
        )
    mlflow.set_tracking_uri(resolved)
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        names = sorted(e.name for e in mlflow.search_experiments())
        raise UserError(
            f"no experiment named {experiment!r} in {resolved}; experiments there: "
            + (", ".join(names) if names else "none")
            + " (choose one with tracking.experiment=NAME)"
        )
    return str(found.experiment_id)


def search_all(experiment_id: str) -> pd.DataFrame:
    """Every run of the experiment, nested runs included, one row each."""
    import mlflow

    frame = mlflow.search_runs(experiment_ids=[experiment_id], output_format="pandas")
    assert isinstance(frame, pd.DataFrame)
    return frame


def split_runs(raw: pd.DataFrame, experiment: str) -> Runs:
    """Studies, rounds and inference runs with bare, typed columns."""
    source = f"experiment `{experiment}`"
    if raw.empty or KIND_TAG not in raw.columns:
        frames = (empty(STUDY_COLUMNS), empty(ROUND_COLUMNS), empty(INFERENCE_COLUMNS))
        return Runs(source, *frames, rep_metrics=_rep_metrics, untagged=len(raw))
    kind = raw[KIND_TAG]
    parents = raw[kind == KIND_TRAIN_STUDY]
    children = raw[kind == KIND_TRAIN_ROUND]
    known = kind.isin([KIND_TRAIN_STUDY, KIND_TRAIN_ROUND, KIND_INFERENCE])
    kinds = _col(raw, "tags.energy.kind").dropna().value_counts()
    return Runs(
        source,
        _studies(parents),
        _rounds(children, parents),
        _inference(raw[kind == KIND_INFERENCE]),
        rep_metrics=_rep_metrics,
        untagged=int((~known).sum()),
        energy_kinds={str(k): int(n) for k, n in kinds.items()},
    )


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([np.nan] * len(frame), index=frame.index, dtype=object)


def _studies(parents: pd.DataFrame) -> pd.DataFrame:
    if parents.empty:
        return empty(STUDY_COLUMNS)
    frame = pd.DataFrame({p: _col(parents, f"params.{p}") for p in STUDY_PARAMS})
    frame["study_name"] = _study_name(parents)
    # A study run without pruning (or from before pruners existed) logs no pruner.
    pruner = _col(parents, "params.pruner").fillna(_col(parents, "params.search.pruner"))
    frame["pruner"] = pruner.fillna("none").astype(str)
    frame["energy_kind"] = _col(parents, "tags.energy.kind")
    frame[OVERRIDES] = _col(parents, "tags.hydra_overrides")
    # Every other param (a user's `net.width`, `optimizer`, ...) as text; "" is unset.
    prefix = "params."
    others = [
        c[len(prefix) :]
        for c in parents.columns
        if c.startswith(prefix) and c[len(prefix) :] not in (*STUDY_COLUMNS, *OWN_COLUMNS)
    ]
    for p in others:
        frame[p] = _col(parents, prefix + p).replace("", np.nan)
    frame["start_time"] = parents["start_time"]
    # A resumed study starts a new parent run under the same study name: merge them.
    frame = frame.sort_values("start_time")
    studies = frame.groupby("study_name", sort=False).last().reset_index()
    for p in NUMERIC_STUDY_PARAMS:
        studies[p] = _numeric(studies[p])
    return studies[[*STUDY_COLUMNS, *others]]


def _study_name(parents: pd.DataFrame) -> pd.Series:
    name = _col(parents, "params.study_name").fillna(_col(parents, "tags.study_name"))
    return name.fillna(parents["run_id"]).astype(str)


def _rounds(children: pd.DataFrame, parents: pd.DataFrame) -> pd.DataFrame:
    if children.empty or parents.empty:
        return empty(ROUND_COLUMNS)
    parent_ids = parents["run_id"].to_numpy()
    study_of = pd.Series(_study_name(parents).to_numpy(), index=parent_ids)
    idle_of = pd.Series(_numeric(_col(parents, "metrics.idle_power_w")).to_numpy(), parent_ids)
    parent = _col(children, PARENT_TAG)
    frame = pd.DataFrame(
        {
            "study_name": parent.map(study_of),
            "round": _numeric(_col(children, "params.round").fillna(_col(children, "tags.round"))),
            "run_id": children["run_id"],
            # Round runs from before the state tag existed were only logged when complete.
            "state": _col(children, "tags.state").fillna("COMPLETE").astype(str),
            "start_time": children["start_time"],
            "idle_power_w": parent.map(idle_of),
        }
    )
    # A study that optimised another metric (`val_loss`) has it on its rounds: one column each.
    objectives = _col(parents, "params.objective").dropna().astype(str).unique()
    extra = [o for o in sorted(objectives) if o not in (*ROUND_COLUMNS, *OWN_ROUND_COLUMNS)]
    for m in (*ROUND_METRICS, *DESIGN_METRICS, "pruned_epoch", *extra):
        frame[m] = _numeric(_col(children, f"metrics.{m}"))
    frame = frame.dropna(subset=["study_name", "round"])
    # A round logged twice (a study database reset under the same MLflow experiment): keep
    # the finished one, else the latest.
    frame["_counted"] = frame["state"].isin(COUNTED_STATES)
    frame = frame.sort_values(["_counted", "start_time"]).drop_duplicates(
        ["study_name", "round"], keep="last"
    )
    frame["round"] = frame["round"].astype(int)
    frame[START_ORDER] = frame["start_time"].rank(method="first") - 1
    columns = [*ROUND_COLUMNS, *extra]
    return frame.sort_values(["study_name", "round"])[columns].reset_index(drop=True)


def _inference(infer: pd.DataFrame) -> pd.DataFrame:
    if infer.empty:
        return empty(INFERENCE_COLUMNS)
    frame = pd.DataFrame({"run_id": infer["run_id"]})
    for p in INFERENCE_PARAMS:
        frame[p] = _col(infer, f"params.{p}")
    for p in ("frequency", "batch_size", "max_batch", "max_delay_s"):
        frame[p] = _numeric(frame[p])
    for m in INFERENCE_METRICS:
        frame[m] = _numeric(_col(infer, f"metrics.{m}"))
    return frame[INFERENCE_COLUMNS].reset_index(drop=True)


def _numeric(series: pd.Series) -> pd.Series:
    # Booleans logged by Hydra as "True"/"False" (e.g. relu) count as 1/0.
    mapped = series.replace({"True": 1, "False": 0})  # "none" and the like become NaN below
    return pd.to_numeric(mapped, errors="coerce")


def _rep_metrics(run_ids: list[str]) -> pd.DataFrame:
    return metric_steps(run_ids, REP_KEYS)


def metric_steps(run_ids: list[str], keys: tuple[str, ...]) -> pd.DataFrame:
    """Per-step values of `keys` for the given runs: columns run_id, step, and one per key."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for run_id in run_ids:
        for key in keys:
            for m in client.get_metric_history(run_id, key):
                row = rows.setdefault((run_id, int(m.step)), {"run_id": run_id, "step": m.step})
                row[key] = float(m.value)
    frame = pd.DataFrame(list(rows.values()), columns=["run_id", "step", *keys])
    return frame.astype({"step": int})
