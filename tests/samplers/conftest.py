"""Shared set-up for the sampler tests: quiet Optuna.

torch keeps its default thread count here: GP-PI limits its own threads (as a user gets it),
and a one-thread pin in the tests would hide a sampler that does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import optuna
import pytest


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)
