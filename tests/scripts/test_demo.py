"""scripts/demo.sh, as the README starts it: the set-up, then the 2×2 sweep."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_sets_up_and_runs_the_two_by_two_sweep(tmp_path: Path) -> None:
    # The demo passes its arguments on to the sweep, after its own: these shrink each job and
    # put the stores and the sweep's folder under tmp_path.
    shrink = ["epochs=1", "rounds=1", "repetitions=1", "warmup_steps=0", "energy=none"]
    shrink += ["dataset.train_samples=128", "dataset.test_samples=64", "progress=none"]
    where = [
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"study.storage=sqlite:///{tmp_path}/studies.db",
        f"hydra.sweep.dir={tmp_path}/multirun",
    ]
    # The set-up keeps the installed torch and pins nothing new: a test changes no package.
    env = {**os.environ, "GREEN_AI_KEEP_TORCH": "1", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    repo_before = set(ROOT.iterdir())
    # MLflow keeps a SQLite store's artifacts in ./mlruns of the directory the sweep starts
    # in, which demo.sh makes the repository's root; removed afterwards unless it was there.
    artifacts = ROOT / "mlruns"
    keep_artifacts = artifacts.exists()
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "demo.sh"), *shrink, *where],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        added = set(ROOT.iterdir()) - repo_before - {ROOT / ".pytest_cache"}
    finally:
        if not keep_artifacts:
            shutil.rmtree(artifacts, ignore_errors=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.splitlines()[-1].startswith("Done. Browse the runs with:")
    with open(tmp_path / "multirun" / "summary.csv") as f:
        jobs = list(csv.DictReader(f))
    assert len({job["cell"] for job in jobs}) == 4  # conv 1/4 × ReLU off/on
    assert all(job["rounds"] == "1" and job["best_accuracy"] for job in jobs)
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "studies.db").is_file()
    assert added <= {artifacts}
