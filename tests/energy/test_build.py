"""`build_meter`: config validation, `auto`'s choice and its one log line, the shipped configs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from green_ai.energy import BACKENDS, build_meter
from green_ai.errors import UserError

from .fakes import CONF, FakeClock, FakeGPU, make_powercap

UUID = "GPU-11111111-aaaa-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


def build(cfg: DictConfig, device: str, clock: FakeClock) -> Any:
    return build_meter(cfg, torch.device(device), clock=clock, threaded=False)


def energy_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("green_ai.energy")]


def test_every_backend_has_a_config_with_the_same_keys() -> None:
    files = sorted((CONF / "energy").glob("*.yaml"))
    assert sorted(f.stem for f in files) == sorted(BACKENDS)
    keys = {f.stem: set(OmegaConf.load(f).keys()) for f in files}  # type: ignore[union-attr]
    for name, cfg_keys in keys.items():
        assert cfg_keys == keys["auto"], name
        assert OmegaConf.load(CONF / "energy" / f"{name}.yaml").backend == name
    auto = OmegaConf.load(CONF / "energy" / "auto.yaml")
    assert auto.interval_s == 0.1  # thesis §3.3.3
    assert auto.devices is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("backend", "smi"),
        ("interval_s", 0),
        ("idle_s", -1),
        ("watts_per_core", "many"),
        ("grid_intensity_g_per_kwh", -5),
        ("devices", ["first"]),
    ],
)
def test_bad_values_are_user_errors_naming_the_key(
    energy_cfg: Callable[..., DictConfig], clock: FakeClock, key: str, value: Any
) -> None:
    with pytest.raises(UserError, match=f"energy.{key}"):
        build(energy_cfg("none", **{key: value}), "cpu", clock)


def test_auto_picks_nvml_on_cuda(
    energy_cfg: Callable[..., DictConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_nvml([FakeGPU(UUID, name="H200", power_w=lambda t: 1.0, energy_j=lambda t: t)])
    caplog.set_level(logging.INFO)
    meter = build(energy_cfg("auto"), "cuda:0", clock)
    assert meter.backend == "nvml" and meter.device_names == ["cuda:0 H200"]
    (line,) = energy_logs(caplog)
    assert "nvml" in line and "counter" in line and "NVML works" in line


def test_auto_falls_back_to_rapl_then_estimate_and_says_why(
    energy_cfg: Callable[..., DictConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    install_nvml([], library_missing=True)
    caplog.set_level(logging.INFO)
    root = make_powercap(tmp_path / "pc", {"intel-rapl:0": ("package-0", 0, 10**12)})
    meter = build(energy_cfg("auto", powercap_root=str(root)), "cuda:0", clock)
    assert meter.backend == "rapl"
    (line,) = energy_logs(caplog)
    assert "NVML Shared Library Not Found" in line and "RAPL readable" in line

    caplog.clear()
    meter = build(energy_cfg("auto", powercap_root=str(tmp_path / "none")), "cuda:0", clock)
    assert (meter.backend, meter.kind) == ("estimate", "estimated")
    (line,) = energy_logs(caplog)
    assert "estimate" in line and "no NVML" in line and "no RAPL" in line


def test_auto_on_cpu_does_not_try_nvml(
    energy_cfg: Callable[..., DictConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    nvml = install_nvml([FakeGPU(UUID, power_w=lambda t: 1.0)])
    caplog.set_level(logging.INFO)
    meter = build(energy_cfg("auto", powercap_root=str(tmp_path)), "cpu", clock)
    assert meter.backend == "estimate"
    assert nvml.calls["init"] == 0
    (line,) = energy_logs(caplog)
    assert "the device measured is cpu, not a GPU" in line


def test_explicit_backend_logs_one_line(
    energy_cfg: Callable[..., DictConfig], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    build(energy_cfg("estimate"), "cpu", clock)
    (line,) = energy_logs(caplog)
    assert "estimate" in line and "as configured" in line


def test_rapl_requested_but_absent_says_what_to_do(
    energy_cfg: Callable[..., DictConfig], clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="energy=rapl: .*energy=auto"):
        build(energy_cfg("rapl", powercap_root=str(tmp_path / "x")), "cpu", clock)


@pytest.mark.parametrize("backend", ["estimate", "none"])
def test_config_group_composes_with_hydra(backend: str, clock: FakeClock) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    try:
        with initialize_config_dir(str(CONF), version_base="1.3"):
            cfg = compose(overrides=[f"+energy={backend}", "energy.interval_s=0.01"])
    finally:
        GlobalHydra.instance().clear()
    meter = build(cfg.energy, "cpu", clock)
    assert meter.backend == backend
    assert cfg.energy.interval_s == 0.01  # the inference study overrides it so
