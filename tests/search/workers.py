"""Running `python -m green_ai.train` workers as a user does, and reading what they left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
from mlflow import MlflowClient
from mlflow.entities import Run

TINY = [
    "dataset=synthetic",
    "dataset.train_samples=128",
    "dataset.test_samples=64",
    "epochs=1",
    "repetitions=1",
    "batch_size=64",
    "conv=1",
    "linear=2",
    "energy=none",
    "progress=log",
]


def _user_env() -> dict[str, str]:
    """A user's environment: one torch thread per process, the default MLflow store."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m green_ai.train ARGS` in `cwd`, run to its end, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "green_ai.train", *args],
        cwd=cwd,
        env=_user_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )


def worker(cwd: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    """One worker started in `cwd` with the default stores (studies.db, mlflow.db there)."""
    return subprocess.Popen(
        [sys.executable, "-m", "green_ai.train", *TINY, *args],
        cwd=cwd,
        env=_user_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def finish(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every worker; each must exit 0 (its output is the assertion message)."""
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-4000:]
    return outputs


def only_study(storage: str) -> optuna.Study:
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


def tracked_runs(tracking_uri: str, experiment: str = "green_ai") -> tuple[list[Run], list[Run]]:
    """(parent runs, round runs) of the experiment."""
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=10_000)
    parents = [r for r in runs if r.data.tags["green_ai.kind"] == "train_study"]
    rounds = [r for r in runs if r.data.tags["green_ai.kind"] == "train_round"]
    return parents, rounds


def assert_exact_study(storage: str, tracking_uri: str, rounds: int) -> None:
    """Exactly `rounds` COMPLETE trials, none RUNNING, no setting drawn twice, one parent
    run with every round run nested under it, nothing left RUNNING in MLflow."""
    study = only_study(storage)
    states = [t.state for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == rounds, states
    assert optuna.trial.TrialState.RUNNING not in states, states
    drawn = {tuple(sorted(t.params.items())) for t in complete}
    assert len(drawn) == rounds, "two rounds drew the same hyperparameters"
    parents, round_runs = tracked_runs(tracking_uri)
    assert len(parents) == 1, [p.info.run_name for p in parents]
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["rounds_completed"] == rounds
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in round_runs)
    seen = sorted(
        (int(r.data.tags["round"]), r.info.status, r.data.tags.get("state"), r.info.run_id)
        for r in round_runs
    )
    trials = [(t.number, t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials]
    assert [r for r in round_runs if r.info.status == "RUNNING"] == [], seen
    assert sum(r.data.tags["state"] == "COMPLETE" for r in round_runs) == rounds, (trials, seen)
