"""Advisory file locks between processes of one machine (POSIX `flock`).

Jobs of a sweep and workers of a shared study start together; whatever only one of them may do
at a time (create an SQLite store, reserve a round, take a GPU) happens under one of these.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def file_lock(path: str | Path, *, timeout_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if absent) for the `with` block.

    Waits for other holders; with `timeout_s`, raises `TimeoutError` after that long.
    """
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if deadline else 0))
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{path} stayed locked for {timeout_s:g} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def try_lock(path: str | Path) -> int | None:
    """Take `path`'s lock without waiting: the open descriptor (the lock lasts until it is
    closed, or the process ends), or `None` when another holds it."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def create_sqlite_file(path: str | Path, create: Callable[[str], None]) -> None:
    """Make the SQLite database `path`, if it does not exist yet, with `create(url)`.

    `create` builds the database at a temporary name beside `path`, which is then renamed
    into place: a process killed while creating (MLflow's migrations take a second or two)
    leaves no half-made file behind, where the next run would fail on its leftover tables.
    Call it under a lock that every creator of `path` takes.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.creating*"):
        stale.unlink(missing_ok=True)  # left by a creator killed before; none runs now
    if path.exists() and path.stat().st_size > 0:
        return
    building = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        create(f"sqlite:///{building}")
        os.replace(building, path)
    finally:
        for leftover in (building, building.with_name(building.name + "-journal")):
            leftover.unlink(missing_ok=True)
