"""Advisory file locks between processes of one machine (POSIX `flock`).

Jobs of a sweep and workers of a shared study start together; whatever only one of them may do
at a time (create an SQLite store, reserve a round, take a GPU) happens under one of these.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
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
