"""GPPISampler against Optuna's own sampler test suite (``optuna.testing.pytest_samplers``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)

from green_ai.samplers import GPPISampler


class TestGPPISampler(BasicSamplerTestCase, RelativeSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        # One random round, then the GP: the suite's short studies exercise the GP path, with
        # the refinement on; few candidates keep the suite quick.
        return lambda: GPPISampler(seed=0, n_startup_trials=1, n_candidates=32, n_local_starts=2)
