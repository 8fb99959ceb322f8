"""Shared set-up for the sampler tests: one torch thread, quiet Optuna."""

from __future__ import annotations

from collections.abc import Iterator

import optuna
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_quiet_optuna() -> Iterator[None]:
    # The GP's linear algebra on tiny matrices gains nothing from threads, and the machines
    # running the tests are shared.
    threads = torch.get_num_threads()
    verbosity = optuna.logging.get_verbosity()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(verbosity)
