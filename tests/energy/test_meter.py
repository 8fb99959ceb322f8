"""Windows, idle baseline and derived figures, on the `none` and `estimate` backends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from pytest_mock import MockerFixture

from green_ai.config.energy import EnergyConfig
from green_ai.energy import (
    ESTIMATED,
    NONE,
    EnergyMeter,
    Measurement,
    build_meter,
    measurement_metrics,
)

from .fakes import FakeClock

CPU = torch.device("cpu")


class FakeCpuTime:
    """Process CPU seconds, moved by the test."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def estimate_meter(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, cpu: FakeCpuTime, **cfg: object
) -> EnergyMeter:
    return build_meter(
        energy_cfg("estimate", watts_per_core=10.0, **cfg),
        CPU,
        clock=clock,
        sleep=clock.sleep,
        cpu_time=cpu,
        threaded=False,
    )


def test_none_backend_gives_durations_and_absent_energy(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    meter = build_meter(energy_cfg("none"), CPU, clock=clock, sleep=clock.sleep)
    assert (meter.backend, meter.kind, meter.device_names) == ("none", NONE, [])
    assert meter.measure_idle() is None
    meter.begin("round")
    clock.sleep(3.5)
    m = meter.end("round")
    assert m.duration_s == pytest.approx(3.5)
    assert m.energy_j is None and m.energy_net_j is None and m.power_mean_w is None
    assert m.kind == NONE and m.reason
    assert measurement_metrics(m) == {"duration_s": pytest.approx(3.5)}
    meter.close()


def test_estimate_is_cpu_time_times_watts_and_labelled(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    cpu = FakeCpuTime()
    meter = estimate_meter(energy_cfg, clock, cpu)
    meter.begin("epoch")
    clock.sleep(4.0)
    cpu.t += 6.0  # 1.5 cores busy on average
    m = meter.end("epoch")
    assert m.kind == ESTIMATED and m.backend == "estimate"
    assert m.energy_j == pytest.approx(60.0)
    assert m.power_mean_w == pytest.approx(15.0)
    assert m.per_device_j == {"cpu": pytest.approx(60.0)}
    assert m.power_peak_w is None and m.gpu_util_mean is None


def test_duplicate_and_unknown_names_raise(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    meter = estimate_meter(energy_cfg, clock, FakeCpuTime())
    meter.begin("a")
    with pytest.raises(ValueError, match="already open"):
        meter.begin("a")
    with pytest.raises(ValueError, match="no open energy window"):
        meter.end("b")
    meter.end("a")
    with pytest.raises(ValueError, match="no open energy window"):
        meter.end("a")
    meter.begin("a")  # a closed name can be reused


def test_windows_nest(energy_cfg: Callable[..., EnergyConfig], clock: FakeClock) -> None:
    cpu = FakeCpuTime()
    meter = estimate_meter(energy_cfg, clock, cpu)
    meter.begin("round")
    cpu.t += 1.0
    clock.sleep(1.0)
    with meter.window("rep") as rep:
        with meter.window("epoch") as epoch:
            cpu.t += 2.0
            clock.sleep(2.0)
        cpu.t += 3.0
        clock.sleep(3.0)
    assert epoch.measurement is not None and rep.measurement is not None
    total = meter.end("round")
    assert epoch.measurement.energy_j == pytest.approx(20.0)
    assert rep.measurement.energy_j == pytest.approx(50.0)
    assert total.energy_j == pytest.approx(60.0)
    assert epoch.measurement.duration_s == pytest.approx(2.0)
    assert total.duration_s == pytest.approx(6.0)


def test_window_ends_when_block_raises(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    meter = estimate_meter(energy_cfg, clock, FakeCpuTime())
    with pytest.raises(RuntimeError), meter.window("epoch") as w:
        clock.sleep(1.0)
        raise RuntimeError("training failed")
    assert w.measurement is not None and w.measurement.duration_s == pytest.approx(1.0)
    meter.begin("epoch")  # the name was released


def test_idle_baseline_and_net_energy(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    cpu = FakeCpuTime()

    def sleep(dt: float) -> None:  # an idle process still ticks a little CPU time
        clock.sleep(dt)
        cpu.t += 0.05 * dt

    meter = build_meter(
        energy_cfg("estimate", watts_per_core=10.0, idle_s=4.0, settle_s=1.0),
        CPU,
        clock=clock,
        sleep=sleep,
        cpu_time=cpu,
        threaded=False,
    )
    start = clock.t
    idle = meter.measure_idle()
    assert clock.t - start == pytest.approx(5.0)  # settle, then measure
    assert idle == pytest.approx(0.5) and meter.idle_power_w == idle
    meter.begin("round")
    clock.sleep(10.0)
    cpu.t += 8.0
    m = meter.end("round")
    assert m.energy_j == pytest.approx(80.0)
    assert m.energy_net_j == pytest.approx(80.0 - 0.5 * 10.0)
    assert measurement_metrics(m)["energy_net_j"] == pytest.approx(75.0)


def test_idle_zero_skips_the_baseline(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock
) -> None:
    meter = estimate_meter(energy_cfg, clock, FakeCpuTime(), idle_s=0)
    assert meter.measure_idle() is None
    assert clock.t == 100.0  # did not even settle
    meter.begin("a")
    clock.sleep(1.0)
    m = meter.end("a")
    assert m.energy_j is not None and m.energy_net_j is None
    assert "energy_net_j" not in measurement_metrics(m)


def test_cuda_windows_synchronise_at_both_edges(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, mocker: MockerFixture
) -> None:
    sync = mocker.patch("torch.cuda.synchronize", autospec=True)
    device = torch.device("cuda:0")
    meter = build_meter(energy_cfg("none"), device, clock=clock)
    meter.begin("epoch")
    assert sync.call_count == 1
    meter.end("epoch")
    assert sync.call_count == 2
    sync.assert_called_with(device)


def test_cpu_windows_never_synchronise(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, mocker: MockerFixture
) -> None:
    sync = mocker.patch("torch.cuda.synchronize", autospec=True)
    meter = build_meter(energy_cfg("none"), CPU, clock=clock)
    with meter.window("epoch"):
        pass
    sync.assert_not_called()


def test_measurement_metrics_leaves_out_none_and_keeps_zero() -> None:
    m = Measurement(name="x", duration_s=2.0, energy_j=0.0, power_mean_w=0.0, gpu_util_mean=None)
    assert measurement_metrics(m) == {"energy_j": 0.0, "power_mean_w": 0.0, "duration_s": 2.0}


def test_measurement_is_frozen() -> None:
    m = Measurement(name="x", duration_s=1.0)
    with pytest.raises(AttributeError):
        m.energy_j = 1.0  # type: ignore[misc]
