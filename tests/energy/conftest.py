from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from .fakes import CONF, FakeClock, FakeGPU, fake_pynvml


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(100.0)


@pytest.fixture
def energy_cfg() -> Callable[..., DictConfig]:
    """The shipped `conf/energy/<backend>.yaml` with overrides."""

    def make(backend: str = "auto", /, **overrides: Any) -> DictConfig:
        cfg = OmegaConf.load(CONF / "energy" / f"{backend}.yaml")
        assert isinstance(cfg, DictConfig)
        for key, value in overrides.items():
            cfg[key] = value
        return cfg

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
