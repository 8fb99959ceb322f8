from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from green_ai.config.energy import EnergyConfig
from green_ai.energy import _build

from .fakes import FakeClock, FakeGPU, fake_pynvml


@pytest.fixture(autouse=True)
def _fresh_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees `build_meter`'s first line of the process again."""
    monkeypatch.setattr(_build, "_SAID", set())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


@pytest.fixture
def energy_cfg() -> Callable[..., EnergyConfig]:
    """The settings of `energy=<backend>` with overrides, as the typed config builds them."""

    def make(backend: str = "auto", /, **overrides: Any) -> EnergyConfig:
        return EnergyConfig(backend=backend, **overrides)

    return make


@pytest.fixture
def install_nvml(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Callable[..., Any]:
    """Put a fake `pynvml` in `sys.modules` with the given GPUs; returns the module."""

    def install(gpus: list[FakeGPU], **kwargs: Any) -> Any:
        mod = fake_pynvml(gpus, clock, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", mod)
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        return mod

    return install
