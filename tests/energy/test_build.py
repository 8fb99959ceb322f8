"""`build_meter`: which backends `auto` and `backends` open, and the one short log line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from green_ai.config.energy import EnergyConfig
from green_ai.energy import EnergyMeter, build_meter
from green_ai.errors import UserError

from .fakes import FakeClock, FakeGPU, make_powercap

UUID = "GPU-11111111-aaaa-4000-8000-000000000000"
RANGE = 262_143_328_850


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    return make_powercap(
        tmp_path / "powercap",
        {
            "intel-rapl:0": ("package-0", 0, RANGE),
            "intel-rapl:0:0": ("dram", 0, RANGE),
            "intel-rapl:1": ("package-1", 0, RANGE),
            "intel-rapl:1:0": ("dram", 0, RANGE),
        },
    )


def build(cfg: EnergyConfig | DictConfig, device: str | None, clock: FakeClock) -> EnergyMeter:
    return build_meter(
        cfg, None if device is None else torch.device(device), clock=clock, threaded=False
    )


def energy_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("green_ai.energy") and r.levelno == level
    ]


def test_auto_on_cuda_takes_nvml_and_rapl_together(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    powercap: Path,
) -> None:
    install_nvml([FakeGPU(UUID, name="H200", power_w=lambda t: 1.0, energy_j=lambda t: t)])
    caplog.set_level(logging.DEBUG)
    meter = build(energy_cfg("auto", powercap_root=str(powercap)), "cuda:0", clock)
    assert meter.backend == "nvml+rapl" and meter.kind == "measured"
    assert meter.device_names == [
        "cuda:0 H200",
        "package-0",
        "package-1",
        "package-0/dram",
        "package-1/dram",
    ]
    # Issue 11: one short line, nothing about why.
    assert energy_lines(caplog) == ["energy: nvml (counter) cuda:0 + rapl package(2),dram(2)"]


def test_auto_says_briefly_what_it_skipped_and_why_only_at_debug(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    install_nvml([], library_missing=True)
    caplog.set_level(logging.DEBUG)
    meter = build(energy_cfg("auto", powercap_root=str(tmp_path / "absent")), "cuda:0", clock)
    assert (meter.backend, meter.kind) == ("estimate", "estimated")
    (line,) = energy_lines(caplog)
    assert line == "energy: estimate (CPU time x 10 W/core) [auto: no nvml, no rapl]"
    why = " ".join(energy_lines(caplog, logging.DEBUG))
    assert "NVML Shared Library Not Found" in why and "no RAPL on this machine" in why


def test_auto_without_nvml_takes_rapl_alone(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    powercap: Path,
) -> None:
    install_nvml([], library_missing=True)
    meter = build(energy_cfg("auto", powercap_root=str(powercap)), "cuda:0", clock)
    assert meter.backend == "rapl"


def test_auto_on_cpu_does_not_try_nvml(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    nvml = install_nvml([FakeGPU(UUID, power_w=lambda t: 1.0)])
    caplog.set_level(logging.DEBUG)
    meter = build(energy_cfg("auto", powercap_root=str(tmp_path)), "cpu", clock)
    assert meter.backend == "estimate"
    assert nvml.calls["init"] == 0
    assert any("cpu, not a GPU" in line for line in energy_lines(caplog, logging.DEBUG))


def test_no_device_measures_every_visible_gpu_without_touching_cuda(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    powercap: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uuids = [UUID, UUID.replace("1111", "2222")]
    install_nvml([FakeGPU(u, power_w=lambda t: 1.0) for u in uuids])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: pytest.fail("CUDA was initialised"))
    meter = build(energy_cfg("auto", powercap_root=str(powercap)), None, clock)
    assert meter.backend == "nvml+rapl"
    assert [n.split()[0] for n in meter.device_names[:2]] == ["cuda:0", "cuda:1"]
    meter.begin("w")  # no device: nothing to synchronise
    meter.end("w")


def test_backends_list_opens_each_and_wins_over_backend(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    powercap: Path,
) -> None:
    install_nvml([FakeGPU(UUID, power_w=lambda t: 1.0)])
    cfg = energy_cfg("none", backends=["rapl", "nvml"], powercap_root=str(powercap))
    assert build(cfg, "cuda:0", clock).backend == "rapl+nvml"


def test_a_named_backend_that_fails_closes_the_others_and_says_what_to_do(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    tmp_path: Path,
) -> None:
    nvml = install_nvml([FakeGPU(UUID, power_w=lambda t: 1.0)])
    cfg = energy_cfg(backends=["nvml", "rapl"], powercap_root=str(tmp_path / "x"))
    with pytest.raises(UserError, match=r"energy.backends: rapl: .*no RAPL.*energy=auto"):
        build(cfg, "cuda:0", clock)
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_rapl_requested_but_absent_says_what_to_do(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="energy=rapl: .*energy=auto"):
        build(energy_cfg("rapl", powercap_root=str(tmp_path / "x")), "cpu", clock)


def test_the_line_is_logged_once_per_process(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(3):  # the jobs of a sweep in one process
        build(energy_cfg("estimate"), "cpu", clock)
    assert energy_lines(caplog) == ["energy: estimate (CPU time x 10 W/core)"]
    assert energy_lines(caplog, logging.DEBUG).count(energy_lines(caplog)[0]) == 2


def test_interval_goes_from_the_settings_to_the_meter_only(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, powercap: Path
) -> None:
    meter = build(energy_cfg("rapl", interval_s=0.02, powercap_root=str(powercap)), "cpu", clock)
    assert meter.interval_s == 0.02
    assert not any(hasattr(b, "interval_s") for b in meter._backends)


def test_a_composed_mapping_is_accepted_until_callers_pass_settings(clock: FakeClock) -> None:
    cfg = OmegaConf.create({"backend": "estimate", "idle_s": 0, "devices": [0]})
    assert build(cfg, "cpu", clock).backend == "estimate"
    with pytest.raises(UserError, match="energy.colour is not a setting"):
        build(OmegaConf.create({"colour": "green"}), "cpu", clock)
    with pytest.raises(UserError, match="energy.interval_s=0"):
        build(OmegaConf.create({"interval_s": 0}), "cpu", clock)


def test_a_backend_of_ones_own_opens_through_its_files_factory(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from green_ai.config.groups import CONF, searching

    (tmp_path / "lab_plug.py").write_text(
        "from green_ai.energy import Backend, Reading\n"
        "class Plug(Backend):\n"
        "    name = 'plug'\n"
        "    kind = 'measured'\n"
        "    def __init__(self, settings, *, device, cpu_time, joules_per_s):\n"
        "        self.device_names, self.rate, self.reads = ['wall'], joules_per_s, 0\n"
        "    def read(self):\n"
        "        self.reads += 1\n"
        "        return Reading(energy_j={'wall': self.rate * self.reads})\n"
        "    def part(self, device):\n"
        "        return 'gpu'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "energy").mkdir()
    (tmp_path / "energy" / "plug.yaml").write_text(
        "backend: plug\nfactory: {_target_: lab_plug.Plug, joules_per_s: 3.0}\nparts: [gpu]\n"
    )
    cpu = iter(range(100))
    with searching((f"file://{CONF}", f"file://{tmp_path}")):
        meter = build_meter(
            EnergyConfig(backends=["plug", "estimate"], watts_per_core=1.0, idle_s=0),
            "cpu",
            clock=clock,
            cpu_time=lambda: float(next(cpu)),
            threaded=False,
        )
    assert meter.backend == "plug+estimate"
    with meter.window("w") as window:
        pass
    m = window.measurement
    assert m is not None and m.energy_j == 3.0 + 1.0  # one read apart: 3 J/read + 1 s x 1 W
    assert m.parts_j == {"gpu": 3.0, "cpu": 1.0}
