"""`python -m green_ai.train` as a user runs it: the factorial sweep, resume, bad input (help:
`tests/test_help.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

QUICK = [
    "dataset=synthetic",
    "epochs=1",
    "rounds=2",
    "repetitions=2",
    "dataset.train_samples=512",
    "dataset.test_samples=256",
    "energy.idle_s=0",
]


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GREEN_AI_DATA": str(cwd / "data"), "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.train",
            *args,
            f"hydra.run.dir={cwd}/outputs",
            f"hydra.sweep.dir={cwd}/multirun",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["net=nope"], "Could not find 'net/nope'"),
        (["conv=-1"], "conv=-1 must be an integer of at least 0"),
        (["conv=9"], "conv=9 is too many for 28×28 input"),
        (["dataset=fashion_mnist", "dataset.download=false"], "use dataset=synthetic"),
        (["dataset=synthetic", "energy=nvml"], "use energy=auto"),
    ],
)
def test_wrong_overrides_fail_at_once_with_a_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = train(tmp_path, *args, "dataset.train_samples=64")
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "studies.db").exists()  # nothing started


def test_a_sweep_with_a_job_that_cannot_be_composed_fails_in_one_line(tmp_path: Path) -> None:
    # Hydra turns a callback's exception into a warning and goes on: the check of every job
    # before the sweep must stop it itself, with nothing but the one line.
    out = train(tmp_path, "-m", "conv=1,x", "dataset.train_samples=64")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: conv=x: Value 'x' of type 'str' could not be converted to Integer"
    ]
    assert not (tmp_path / "multirun").exists()


@pytest.mark.slow
def test_factorial_sweep_then_resume_then_one_more_round(tmp_path: Path) -> None:
    sweep = ["-m", "net=simplecnn", "conv=1,4", "relu=0,1", *QUICK]
    first = train(tmp_path, *sweep)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("Launching 4 jobs") == 1 or "#3 :" in first.stdout + first.stderr

    def counts() -> tuple[int, int]:
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
        client = MlflowClient()
        exp = client.get_experiment_by_name("green_ai")
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        kinds = [r.data.tags["green_ai.kind"] for r in runs]
        return kinds.count("train_study"), kinds.count("train_round")

    assert counts() == (4, 8)
    again = train(tmp_path, *sweep)
    assert again.returncode == 0, again.stderr[-3000:]
    assert counts() == (4, 8)
    more = train(tmp_path, *[a if a != "rounds=2" else "rounds=3" for a in sweep])
    assert more.returncode == 0, more.stderr[-3000:]
    assert counts() == (4, 12)
