"""Workers sharing one study through PostgreSQL, as the README tells users to run them.

The test starts its own PostgreSQL server on loopback in a temporary directory (initdb, then
pg_ctl) and stops it afterwards. Where PostgreSQL is not installed it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import psycopg
import pytest

pytestmark = pytest.mark.slow

QUICK = [
    "dataset=synthetic",
    "epochs=1",
    "rounds=4",
    "repetitions=1",
    "dataset.train_samples=256",
    "dataset.test_samples=128",
    "energy=none",
    "progress=log",
]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15", "14"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("needs PostgreSQL (initdb and pg_ctl) to start a server of its own")
    # PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="green-ai-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = workdir / "data", _free_port()
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = workdir / "server.log"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


def _worker(cwd: Path, storage: str, worker: int) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "green_ai.train",
            *QUICK,
            f"study.storage={storage}",
            f"study.worker={worker}",
            # Each worker tracks into its own store: SQLite takes one writer at a time.
            f"tracking.uri=sqlite:///{cwd}/mlflow-{worker}.db",
            f"hydra.run.dir={cwd}/outputs-{worker}",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_workers_share_one_study_in_postgresql(postgres_url: str, tmp_path: Path) -> None:
    # Both start at once, on an empty database: creating the schema and the study must not
    # collide, and together they run the study's rounds with different hyperparameters.
    workers = [_worker(tmp_path, postgres_url, w) for w in (1, 2)]
    outputs = [p.communicate(timeout=600)[0] for p in workers]
    for p, out in zip(workers, outputs, strict=True):
        assert p.returncode == 0, out

    (summary,) = optuna.get_all_study_summaries(postgres_url)
    study = optuna.load_study(study_name=summary.study_name, storage=postgres_url)
    complete = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    # Together they stop at rounds=4, or a round over per extra worker (README).
    assert 4 <= len(complete) <= 5
    drawn = {tuple(sorted(t.params.items())) for t in complete}
    assert len(drawn) == len(complete), "two rounds drew the same hyperparameters"

    again = _worker(tmp_path, postgres_url, 1)
    out = again.communicate(timeout=600)[0]
    assert again.returncode == 0, out
    assert "(0 new)" in out
    assert len(optuna.load_study(study_name=summary.study_name, storage=postgres_url).trials) == (
        len(study.trials)
    )


def test_workers_starting_together_on_an_empty_database_all_open_the_study(
    postgres_url: str,
) -> None:
    # Six processes create Optuna's tables at the same moment; without open_study's retry
    # some fail with a unique violation from PostgreSQL's catalogue.
    fresh = postgres_url.rsplit("/", 1)[0] + "/race"
    # Each process imports first, then waits for the same wall-clock moment to open the study.
    code = (
        "import sys, time, optuna\n"
        "from green_ai.search.study import open_study\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "open_study('race', sys.argv[1], [optuna.study.StudyDirection.MAXIMIZE])\n"
    )
    admin = postgres_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE DATABASE race")
    start_at = str(time.time() + 10)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, fresh, start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(6)
    ]
    for p in procs:
        out = p.communicate(timeout=120)[0].decode()
        assert p.returncode == 0, out
    assert [s.study_name for s in optuna.get_all_study_summaries(fresh)] == ["race"]
