"""Paths relative to where the user started the command."""

from __future__ import annotations

import os


def launch_dir() -> str:
    """The directory the command was started from, also inside a Hydra job.

    Relative paths in configs (data root, SQLite stores, report folder) are taken from here,
    not from Hydra's per-job output folder, so every job of a sweep shares them.
    """
    try:
        from hydra.utils import get_original_cwd

        return get_original_cwd()
    except (ImportError, ValueError):  # not inside a Hydra app (tests, library use, no Hydra)
        return os.getcwd()
