"""A process killed while it creates the MLflow or Optuna SQLite store leaves nothing that
breaks the next run.

Each case kills a real process with SIGKILL at its Nth SQL statement (counted by an SQLAlchemy
event), at several points of the creation, then runs the set-up again in a new process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_CHILD = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine

which, db, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = 0

@event.listens_for(Engine, "before_cursor_execute")
def die(*args, **kwargs):
    global count
    count += 1
    if count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

from omegaconf import OmegaConf
if which == "mlflow":
    from mlflow import MlflowClient
    from green_ai.tracking.mlflow_setup import setup_tracking
    experiment_id = setup_tracking(OmegaConf.create({"uri": f"sqlite:///{db}", "experiment": "e"}))
    print("experiments", len(MlflowClient().search_experiments()))
else:
    from green_ai.search.storage import open_storage
    import optuna
    storage = open_storage(f"sqlite:///{db}", heartbeat_s=60)
    print("studies", len(optuna.get_all_study_summaries(storage)))
"""


def _set_up(which: str, db: Path, kill_at: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, which, str(db), str(kill_at)],
        capture_output=True,
        text=True,
        timeout=300,
    )


# MLflow makes its store in about 1700 statements (its migrations), Optuna in about 70.
@pytest.mark.parametrize(
    ("which", "kill_points", "expected"),
    [("mlflow", (300, 800, 1300), "experiments 2"), ("optuna", (10, 30, 50), "studies 0")],
)
def test_a_store_whose_creator_was_killed_is_made_whole_by_the_next_run(
    tmp_path: Path, which: str, kill_points: tuple[int, ...], expected: str
) -> None:
    for kill_at in kill_points:
        folder = tmp_path / f"{which}{kill_at}"
        folder.mkdir()
        db = folder / "store.db"
        killed = _set_up(which, db, kill_at)
        assert killed.returncode == -9, killed.stderr[-2000:]
        again = _set_up(which, db)
        assert again.returncode == 0, again.stderr[-3000:]
        assert again.stdout.strip() == expected
        assert sorted(p.name for p in folder.iterdir()) == ["store.db", "store.db.lock"]
