"""A failed reading costs what it must and no more (issue 10, item 5), on a fake NVML and RAPL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy import (
    MEASURED,
    PARTIAL,
    UNAVAILABLE,
    EnergyMeter,
    Measurement,
    build_meter,
    measurement_metrics,
    measurement_tags,
)

from .fakes import FakeClock, FakeGPU, make_powercap, set_energy

CUDA = torch.device("cuda:0")
UUID = "GPU-11111111-aaaa-4000-8000-000000000000"
RANGE = 10**12


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


def meter_for(cfg: EnergyConfig, clock: FakeClock) -> EnergyMeter:
    return build_meter(cfg, CUDA, clock=clock, sleep=clock.sleep, threaded=False)


def polls(meter: EnergyMeter, clock: FakeClock, times: list[float]) -> None:
    for t in times:
        clock.t = t
        meter.poll()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_transient_poll_error_keeps_the_counters_joules(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
) -> None:
    # The regression of issue 10: one failed background poll dropped the whole round.
    gpu = FakeGPU(UUID, power_w=lambda t: 100.0, energy_j=lambda t: 100.0 * t, flaky=(1.5, 2.5))
    install_nvml([gpu])
    meter = meter_for(energy_cfg("nvml"), clock)
    clock.t = 0.0
    meter.begin("round")
    polls(meter, clock, [1.0, 2.0, 3.0])  # the poll at 2 s fails
    clock.t = 4.0
    m = meter.end("round")
    assert (m.kind, m.reason) == (MEASURED, None)
    assert m.energy_j == pytest.approx(400.0)
    assert meter.lacking_windows == 0 and meter.overall_kind == MEASURED


def test_transient_poll_error_without_counter_is_interpolated_and_partial(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
) -> None:
    gpu = FakeGPU(UUID, power_w=lambda t: 50.0 + 10.0 * t, energy_j=None, flaky=(1.5, 2.5))
    install_nvml([gpu])
    meter = meter_for(energy_cfg("nvml"), clock)
    clock.t = 0.0
    meter.begin("round")
    polls(meter, clock, [1.0, 2.0, 3.0])
    clock.t = 4.0
    m = meter.end("round")
    # A ramp 50 -> 90 W: the trapezoid across the 1 -> 3 s gap is still exact here, 280 J.
    assert m.kind == PARTIAL and m.energy_j == pytest.approx(280.0)
    assert m.reason is not None
    assert "Unknown Error" in m.reason and "2 s of 4 s interpolated" in m.reason
    assert measurement_metrics(m)["energy_j"] == pytest.approx(280.0)
    assert measurement_tags(m) == {"energy.kind": "partial", "energy.reason": m.reason}
    assert meter.lacking_windows == 1 and meter.overall_kind == PARTIAL


def test_failure_at_an_edge_leaves_the_window_unavailable_with_the_reason(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
) -> None:
    gpu = FakeGPU(UUID, power_w=lambda t: 100.0, energy_j=lambda t: 100.0 * t, flaky=(3.5, 4.5))
    install_nvml([gpu])
    meter = meter_for(energy_cfg("nvml"), clock)
    clock.t = 0.0
    meter.begin("round")
    polls(meter, clock, [1.0, 2.0, 3.0])
    clock.t = 4.0  # the closing reading fails
    m = meter.end("round")
    assert m.kind == UNAVAILABLE and m.energy_j is None and m.power_mean_w is None
    assert m.reason == "nvml: no reading at the end (NVML failed on cuda:0: Unknown Error)"
    assert m.duration_s == pytest.approx(4.0)
    assert "energy_j" not in measurement_metrics(m)


def test_gpu_lost_mid_study_marks_windows_and_warns_once(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_nvml([FakeGPU(UUID, power_w=lambda t: 100.0, energy_j=None, lost_at=5.0)])
    clock.t = 0.0
    meter = meter_for(energy_cfg("nvml"), clock)
    rounds: list[Measurement] = []
    for r in range(4):  # rounds of 2 s from t = 0: the GPU is lost during the third
        clock.t = 2.0 * r
        with meter.window(f"round{r}") as w:
            polls(meter, clock, [2.0 * r + 1.0])
            clock.t = 2.0 * r + 2.0
        assert w.measurement is not None
        rounds.append(w.measurement)
    assert [m.kind for m in rounds] == [MEASURED, MEASURED, UNAVAILABLE, UNAVAILABLE]
    assert rounds[1].energy_j == pytest.approx(200.0)
    for m in rounds[2:]:
        assert m.energy_j is None and m.reason is not None and "GPU is lost" in m.reason
    (warning,) = warnings(caplog)
    assert "nvml reading failed" in warning and "GPU is lost" in warning
    # What the parent run needs: some windows of this process lack energy, and why.
    assert meter.overall_kind == PARTIAL and meter.lacking_windows == 2
    assert meter.lacking_reason is not None and "GPU is lost" in meter.lacking_reason


def test_gpu_lost_keeps_the_cpu_and_dram_parts(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    tmp_path: Path,
) -> None:
    root = make_powercap(
        tmp_path / "pc",
        {"intel-rapl:0": ("package-0", 0, RANGE), "intel-rapl:0:0": ("dram", 0, RANGE)},
    )
    gpu = FakeGPU(UUID, power_w=lambda t: 200.0, energy_j=lambda t: 200.0 * t)
    install_nvml([gpu])
    meter = meter_for(energy_cfg(backends=["nvml", "rapl"], powercap_root=str(root)), clock)
    clock.t = 0.0
    meter.begin("round")
    gpu.lost_at = 1.0
    clock.t = 2.0
    set_energy(root, "intel-rapl:0", 60_000_000)
    set_energy(root, "intel-rapl:0:0", 8_000_000)
    m = meter.end("round")
    assert m.kind == UNAVAILABLE and m.energy_j is None  # no total without the GPU's share
    assert m.parts_j == {"cpu": pytest.approx(60.0), "dram": pytest.approx(8.0)}
    metrics = measurement_metrics(m)
    assert "energy_gpu_j" not in metrics and "energy_j" not in metrics
    assert metrics["energy_cpu_j"] == pytest.approx(60.0)
    assert m.reason is not None and m.reason.startswith("nvml: no reading at the end")


def test_rapl_file_vanishing_keeps_the_gpu_part(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    tmp_path: Path,
) -> None:
    root = make_powercap(tmp_path / "pc", {"intel-rapl:0": ("package-0", 0, RANGE)})
    install_nvml([FakeGPU(UUID, power_w=lambda t: 200.0, energy_j=lambda t: 200.0 * t)])
    meter = meter_for(energy_cfg(backends=["nvml", "rapl"], powercap_root=str(root)), clock)
    clock.t = 0.0
    meter.begin("w")
    (root / "intel-rapl:0" / "energy_uj").unlink()
    clock.t = 1.0
    m = meter.end("w")
    assert m.kind == UNAVAILABLE and m.parts_j == {"gpu": pytest.approx(200.0)}
    assert m.reason is not None and "RAPL read failed" in m.reason


def test_a_gpu_that_comes_back_is_measured_again(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
) -> None:
    gpu = FakeGPU(UUID, power_w=lambda t: 100.0, energy_j=lambda t: 100.0 * t, lost_at=0.5)
    install_nvml([gpu])
    clock.t = 0.0
    meter = meter_for(energy_cfg("nvml"), clock)
    clock.t = 1.0
    meter.begin("w")
    assert meter.end("w").kind == UNAVAILABLE
    gpu.lost_at = None
    meter.begin("next")
    clock.t = 3.0
    assert meter.end("next").energy_j == pytest.approx(200.0)


def test_a_backend_bug_costs_a_figure_not_the_caller(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    gpu = FakeGPU(UUID, power_w=lambda t: 1.0)
    install_nvml([gpu])
    meter = meter_for(energy_cfg("nvml"), clock)
    gpu.power_w = lambda t: 1 / 0  # a bug below the backend boundary
    meter.begin("w")
    m = meter.end("w")
    assert m.kind == UNAVAILABLE and m.reason is not None and "ZeroDivisionError" in m.reason
