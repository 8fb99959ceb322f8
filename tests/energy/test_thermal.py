"""Thermal state, settling, the idle baseline's spread and two meters on one window, against a
fake `pynvml` (thesis §4.6.1: a GPU that idles high; MLPerf Power's 5 % accuracy target)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy import EnergyMeter, build_meter, measurement_metrics, measurement_tags
from green_ai.energy._measurement import Measurement

from .fakes import FakeClock, FakeGPU

CUDA = torch.device("cuda:0")
UUID = "GPU-11111111-aaaa-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


def _meter(energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, **cfg: Any) -> EnergyMeter:
    return build_meter(
        energy_cfg("nvml", **cfg), CUDA, clock=clock, sleep=clock.sleep, threaded=False
    )


def _polling_meter(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, **cfg: Any
) -> EnergyMeter:
    """A meter whose sleeps poll every 0.1 s of fake time, as its sampler thread would."""
    meters: list[EnergyMeter] = []

    def sleep(seconds: float) -> None:
        end = clock.t + seconds
        while clock.t < end - 1e-9:
            clock.t = min(end, round(clock.t + 0.1, 9))
            meters[0].poll()

    meter = build_meter(energy_cfg("nvml", **cfg), CUDA, clock=clock, sleep=sleep, threaded=False)
    meters.append(meter)
    return meter


def _window(
    meter: EnergyMeter, clock: FakeClock, seconds: float, step: float = 0.1
) -> Measurement:
    meter.begin("w")
    start = clock.t
    while clock.t < start + seconds - 1e-9:
        clock.t = round(clock.t + step, 9)
        meter.poll()
    return meter.end("w")


def test_temperature_and_sm_clock_of_a_window(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # Heats by 1 °C per second; the SM clock drops from 1900 MHz as it does (throttling).
    gpu = FakeGPU(
        UUID,
        power_w=lambda t: 200.0,
        temp_c=lambda t: 40.0 + (t - 100.0),
        sm_clock_mhz=lambda t: 1900.0 - 10.0 * (t - 100.0),
    )
    install_nvml([gpu])
    meter = _meter(energy_cfg, clock)
    m = _window(meter, clock, 10.0)
    assert (m.temp_c_start, m.temp_c_end) == (40.0, 50.0)
    # The mean over every reading: the opening edge, the polls each 0.1 s, the closing edge.
    samples = [1900.0] + [1900.0 - i for i in range(1, 101)] + [1800.0]
    assert m.sm_clock_mhz_mean == pytest.approx(sum(samples) / len(samples))
    metrics = measurement_metrics(m)
    assert metrics["temp_c_start"] == 40.0 and metrics["temp_c_end"] == 50.0


def test_no_thermal_figures_where_nvml_has_none(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUID, power_w=lambda t: 200.0)])
    m = _window(_meter(energy_cfg, clock), clock, 2.0)
    assert m.temp_c_start is None and "temp_c_start" not in measurement_metrics(m)
    assert "sm_clock_mhz_mean" not in measurement_metrics(m)


def _counter_and_power(power: Callable[[float], float], skew: float) -> FakeGPU:
    """A GPU whose counter integrates `power`, while its power reading is `skew` times it."""
    return FakeGPU(
        UUID,
        power_w=lambda t: skew * power(t),
        energy_j=lambda t: 1000.0 + 300.0 * t,  # 300 W, constant
    )


@pytest.mark.parametrize(("skew", "seconds", "tagged"), [(1.08, 6.0, True), (1.03, 6.0, False)])
def test_counter_and_polled_power_disagree(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    skew: float,
    seconds: float,
    tagged: bool,
) -> None:
    install_nvml([_counter_and_power(lambda t: 300.0, skew)])
    m = _window(_meter(energy_cfg, clock), clock, seconds)
    assert m.energy_j == pytest.approx(300.0 * seconds)  # the counter's figure stays
    tags = measurement_tags(m)
    assert ("energy.disagreement" in tags) is tagged
    if tagged:
        said = tags["energy.disagreement"]
        assert "counter 1800.0 J" in said and f"polled power {1800 * skew:.1f} J" in said


def test_short_windows_and_the_threshold_are_not_tagged(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([_counter_and_power(lambda t: 300.0, 1.2)])
    meter = _meter(energy_cfg, clock)
    assert _window(meter, clock, 4.0).disagreement is None  # under 5 s: a 1 s average differs
    assert _window(meter, clock, 6.0).disagreement is not None
    loose = _meter(energy_cfg, clock, disagreement_pct=25.0)
    assert _window(loose, clock, 6.0).disagreement is None


def test_idle_baseline_is_measured_in_windows_and_keeps_its_spread(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # Idle power alternates 50/60 W each second: five 1 s windows see the spread.
    install_nvml([FakeGPU(UUID, power_w=lambda t: 50.0 if int(t + 1e-6) % 2 == 0 else 60.0)])
    meter = _polling_meter(energy_cfg, clock, idle_s=5.0, settle_s=0.0, idle_windows=5)
    idle = meter.measure_idle()
    assert idle is not None and 52.0 < idle < 58.0
    assert meter.idle_n == 5 and meter.idle_sd_w is not None and meter.idle_sd_w > 3.0
    assert meter.idle_first_w == idle and meter.idle_age_s() == 0.0
    one = _polling_meter(energy_cfg, clock, idle_s=5.0, settle_s=0.0, idle_windows=1)
    one.measure_idle()
    assert one.idle_n == 0 and one.idle_sd_w is None  # one window: no spread


def test_settle_waits_for_steady_power_at_most_max_s(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # Power falls from 400 W toward 100 W with a 2 s time constant: steady after a few seconds.
    import math

    start = clock.t
    install_nvml([FakeGPU(UUID, power_w=lambda t: 100.0 + 300.0 * math.exp(-(t - start) / 2))])
    meter = _meter(energy_cfg, clock)
    waited = meter.settle(30.0)
    assert 3.0 < waited < 15.0
    assert meter.settle(0.0) == 0.0
    # Never steady (a sawtooth): the wait ends at max_s.
    install_nvml([FakeGPU(UUID, power_w=lambda t: 100.0 + 200.0 * ((t * 3) % 1))])
    assert _meter(energy_cfg, clock).settle(2.0) == pytest.approx(2.0, abs=0.11)


def test_settle_stops_once_back_near_idle(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # Noisy around idle (±8 %: never steady by 5 %), but its mean is idle's: settled in ~1 s.
    install_nvml([FakeGPU(UUID, power_w=lambda t: 50.0 + (4.0 if round(t * 10) % 2 else -4.0))])
    meter = _polling_meter(energy_cfg, clock, idle_s=1.0, settle_s=0.0, idle_windows=2)
    meter.measure_idle()
    assert meter.settle(10.0) == pytest.approx(1.0, abs=0.11)
