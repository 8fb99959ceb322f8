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
from mlflow import MlflowClient

from .workers import assert_exact_study, finish, only_study, tracked_runs, worker

pytestmark = pytest.mark.slow


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


def _database(postgres_url: str, name: str) -> str:
    """A fresh, empty database on the test server."""
    admin = postgres_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.mark.parametrize("attempt", range(3))
def test_four_workers_share_one_postgresql_study_and_run_exactly_rounds(
    postgres_url: str, tmp_path: Path, attempt: int
) -> None:
    # All four start at once on an empty database and an empty directory: Optuna's schema,
    # the study, MLflow's store and the study's parent run are created by whoever comes first.
    storage = _database(postgres_url, f"exact{attempt}")
    rounds = 6
    procs = [
        worker(tmp_path, f"rounds={rounds}", f"study.storage={storage}", f"study.worker={w}")
        for w in range(4)
    ]
    finish(procs)
    assert_exact_study(storage, f"sqlite:///{tmp_path}/mlflow.db", rounds)
    # Rounds were spread over the workers, not run by one of them alone.
    hosts_pids = {t.user_attrs["worker_pid"] for t in only_study(storage).trials}
    assert len(hosts_pids) >= 2
    again = finish([worker(tmp_path, f"rounds={rounds}", f"study.storage={storage}")])[0]
    assert "(0 new)" in again


def test_no_password_reaches_mlflow_or_the_run_folder(postgres_url: str, tmp_path: Path) -> None:
    # The test server trusts every login, so a URL with a password works like one without.
    storage = _database(postgres_url, "secrets").replace("postgres@", "postgres:SECRET-PASSWORD@")
    out = finish([worker(tmp_path, "rounds=1", f"study.storage={storage}")])[0]
    assert "SECRET-PASSWORD" not in out
    parents, rounds = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    for run in [*parents, *rounds]:
        values = [*run.data.params.values(), *run.data.tags.values()]
        assert not [v for v in values if "SECRET-PASSWORD" in v], run.info.run_name
    folder = Path(tmp_path, "dl")
    config = MlflowClient().download_artifacts(parents[0].info.run_id, "config.yaml", str(folder))
    text = Path(config).read_text()
    assert "postgres:***@" in text and "SECRET-PASSWORD" not in text
    written = [p for p in tmp_path.rglob("*.yaml") if "SECRET-PASSWORD" in p.read_text()]
    assert written == []  # Hydra's .hydra/config.yaml and overrides.yaml are redacted too


def test_workers_starting_together_on_an_empty_database_all_open_the_study(
    postgres_url: str,
) -> None:
    # Six processes create Optuna's tables at the same moment; without the schema lock
    # some fail with a unique violation from PostgreSQL's catalogue.
    fresh = postgres_url.rsplit("/", 1)[0] + "/race"
    # Each process imports first, then waits for the same wall-clock moment to open the study.
    code = (
        "import sys, time, optuna\n"
        "from green_ai.search.storage import open_storage, open_study\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "storage = open_storage(sys.argv[1], heartbeat_s=60)\n"
        "open_study('race', storage, [optuna.study.StudyDirection.MAXIMIZE])\n"
    )
    _database(postgres_url, "race")
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
