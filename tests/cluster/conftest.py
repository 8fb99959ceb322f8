"""A real single-node SLURM cluster for the tests of this folder (see slurm.py), started once
per test session; skipped, with the reason, where SLURM's packages are not installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .slurm import LocalSlurm, missing


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    why = missing()
    if why:
        pytest.skip(why)
    cluster = LocalSlurm(Path(tmp_path_factory.mktemp("slurm")))
    before = os.environ.get("SLURM_CONF")
    try:
        cluster.start()
        os.environ["SLURM_CONF"] = str(cluster.conf)  # the commands the tests start read it
        yield cluster
    finally:
        cluster.stop()
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
