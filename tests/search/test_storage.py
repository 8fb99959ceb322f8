"""Bad stores fail at once, in one line, naming the URL without its password, writing nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from green_ai.errors import UserError
from green_ai.search.storage import check_storage
from green_ai.urls import redact_text, redact_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "green_ai.train", *args, "dataset=synthetic", "energy=none"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # the checks give up after 10 s; a hang would end here
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "tracking.uri=http://127.0.0.1:{port}",
            "tracking.uri=http://127.0.0.1:{port}: no MLflow server answers",
        ),
        ("study.storage=garbage://x", "study.storage=garbage://x: unknown database scheme"),
        (
            "study.storage=postgresql+psycopg://u:SECRET@127.0.0.1:{port}/db",
            "study.storage=postgresql+psycopg://u:***@127.0.0.1:{port}/db: cannot connect",
        ),
        ("study.storage=sqlite:////no/such/dir/s.db", "folder /no/such/dir does not exist"),
        ("tracking.uri=sqlite:////no/such/dir/m.db", "folder /no/such/dir does not exist"),
    ],
)
def test_a_bad_store_is_one_line_and_nothing_is_written(
    tmp_path: Path, override: str, expected: str
) -> None:
    port = _closed_port()
    out = train(tmp_path, override.format(port=port))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expected.format(port=port) in lines[0], out.stderr
    assert "SECRET" not in out.stderr + out.stdout
    assert list(tmp_path.iterdir()) == []  # no studies.db, mlflow.db or outputs/


def test_a_bad_store_in_a_sweep_fails_before_any_job(tmp_path: Path) -> None:
    out = train(tmp_path, "-m", "conv=1,2", "study.storage=garbage://x")
    assert out.returncode == 2 and "unknown database scheme" in out.stderr
    assert list(tmp_path.iterdir()) == []  # not even the sweep folder


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy

    def no_driver(*args: object, **kwargs: object) -> None:
        raise ImportError("No module named 'psycopg'")

    monkeypatch.setattr(sqlalchemy, "create_engine", no_driver)
    with pytest.raises(UserError, match=r"pip install -e '\.\[postgres\]'"):
        check_storage("postgresql+psycopg://u@127.0.0.1:1/db")


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        ("postgresql+psycopg://u:SECRET@h/db", "postgresql+psycopg://u:***@h/db", ["SECRET"]),
        (
            "http://me:TOKEN@host:5000/x?token=T2&a=1",
            "http://me:***@host:5000/x?",
            ["TOKEN", "T2"],
        ),
        ("postgresql://u@h/db?password=SECRET", "postgresql://u@h/db?password=***", ["SECRET"]),
        ("garbage://a:SECRET@x", "garbage://a:***@x", ["SECRET"]),
        ("sqlite:////tmp/s.db", "sqlite:////tmp/s.db", []),
    ],
)
def test_urls_are_redacted(url: str, shown: str, secrets: list[str]) -> None:
    for text in (redact_url(url), redact_text(f"study.storage={url} seed=1")):
        assert shown in text
        assert not [s for s in secrets if s in text]
