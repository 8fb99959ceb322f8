"""Where studies live: the Optuna storage, checked before use and safe for many workers.

Many processes start on one study at once (a sweep's jobs, workers of a shared PostgreSQL
study). What only one of them may do at a time — create the tables, reserve a round, create
the study's MLflow parent run — happens under `study_lock`: a file lock beside an SQLite
database, an advisory lock in PostgreSQL or MySQL.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from green_ai.config.train import StudyConfig
from green_ai.errors import UserError
from green_ai.locks import create_sqlite_file, file_lock
from green_ai.paths import launch_dir
from green_ai.urls import redact_url

# Seconds a database server has to answer before `check_storage` gives up.
CONNECT_TIMEOUT_S = 10
# Seconds SQLite waits for another process's write before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 120
_SCHEMA = "__schema__"
_lock_engines: dict[str, sqlalchemy.engine.Engine] = {}


def storage_url(study: StudyConfig) -> str:
    """The configured Optuna storage, or SQLite `studies.db` in the launch directory."""
    if study.storage:
        return study.storage
    return f"sqlite:///{Path(launch_dir(), 'studies.db').resolve()}"


def check_storage(url: str) -> None:
    """Fail in seconds, with the URL (no password) and the fix, where `url` cannot work.

    Creates nothing: an SQLite file is only looked for, a server only asked `SELECT 1`.
    """
    shown = f"study.storage={redact_url(url)}"
    parsed = _parse(url, shown)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(parsed.database or ".").expanduser().resolve().parent
        if not folder.is_dir():
            raise UserError(f"{shown}: folder {folder} does not exist; create it or fix the path")
        return
    try:
        engine = sqlalchemy.create_engine(parsed, poolclass=NullPool, **_connect_args(parsed))
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except ImportError as err:
        raise UserError(
            f"{shown}: its database driver is not installed ({err}); for PostgreSQL run "
            "`pip install -e '.[postgres]'`"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise UserError(
            f"{shown}: cannot connect ({reason}); check that the server runs and accepts this "
            "user, or leave study.storage unset for the local SQLite file studies.db"
        ) from None


def open_storage(url: str, *, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage with heartbeats (a killed worker's round can be found and
    redone); the tables are created by one process at a time."""
    parsed = make_url(url)
    engine_kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    with study_lock(url, _SCHEMA), warnings.catch_warnings():
        database = _sqlite_file(parsed)
        if database is not None:
            create_sqlite_file(database, _create_sqlite_storage)
        # heartbeat_interval is marked experimental; it is what the stale-trial check needs.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_s,
            grace_period=2 * heartbeat_s,
        )


def _sqlite_file(parsed: URL) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def _create_sqlite_storage(url: str) -> None:
    """Optuna's tables at `url`."""
    optuna.storages.RDBStorage(url).engine.dispose()


def open_study(
    name: str,
    storage: optuna.storages.BaseStorage | str,
    directions: list[optuna.study.StudyDirection],
) -> optuna.Study:
    """Create the study, or load it if it exists (one process at a time)."""
    url = storage if isinstance(storage, str) else storage.url  # type: ignore[attr-defined]
    with study_lock(url, name):
        return optuna.create_study(
            study_name=name, storage=storage, directions=directions, load_if_exists=True
        )


@contextmanager
def study_lock(url: str, name: str) -> Iterator[None]:
    """Exclusive, across processes (and machines for a database server), for study `name`."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    database = _sqlite_file(parsed)
    if database is not None:
        with file_lock(f"{database}.lock"):
            yield
        return
    if backend in ("postgresql", "mysql", "mariadb"):
        with _server_lock(url, backend, name):
            yield
        return
    yield  # an in-memory database lives in one process: nothing to share


@contextmanager
def _server_lock(url: str, backend: str, name: str) -> Iterator[None]:
    engine = _lock_engines.get(url)
    if engine is None:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        _lock_engines[url] = engine
    key = int.from_bytes(
        hashlib.sha1(f"green_ai:{name}".encode()).digest()[:8], "big", signed=True
    )
    with engine.connect() as conn:
        if backend == "postgresql":
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        else:
            lock = f"green_ai:{key}"
            conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": lock})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": lock})


def _parse(url: str, shown: str) -> URL:
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError:  # before ArgumentError: it is one
        raise UserError(
            f"{shown}: unknown database scheme {url.split(':', 1)[0]!r}; use sqlite:///path, "
            "postgresql+psycopg://user@host/db or mysql+pymysql://user@host/db"
        ) from None
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise UserError(
            f"{shown} is not a database URL; use sqlite:///path/studies.db or "
            "postgresql+psycopg://user@host/db (or leave it unset for studies.db)"
        ) from None
    except ImportError as err:
        raise UserError(
            f"{shown}: its database driver is not installed ({err}); for PostgreSQL run "
            "`pip install -e '.[postgres]'`"
        ) from None
    return parsed


def _connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}
