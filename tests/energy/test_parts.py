"""GPU, CPU package and DRAM in the same windows: a fake NVML and a fake powercap tree together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy import ESTIMATED, MEASURED, EnergyMeter, build_meter, measurement_metrics

from .fakes import FakeClock, FakeGPU, make_powercap, set_energy

CUDA = torch.device("cuda:0")
UUID = "GPU-11111111-aaaa-4000-8000-000000000000"
RANGE = 10**12
ZONES = {"package": "intel-rapl:0", "dram": "intel-rapl:0:0"}


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


class Node:
    """A machine whose GPU, package and DRAM draw `watts[part](t)`; `at(t)` moves the clock
    and the RAPL counters to time t (the fake NVML reads the clock itself)."""

    def __init__(
        self, root: Path, clock: FakeClock, watts: dict[str, Callable[[float], float]]
    ) -> None:
        self.root, self.clock, self.watts = root, clock, watts
        self.uj = {zone: 0.0 for zone in ZONES.values()}
        self.t = clock.t

    def at(self, t: float, step: float = 0.001) -> None:
        while self.t < t - 1e-12:  # integrate the CPU-side power finely
            dt = min(step, t - self.t)
            for part, zone in ZONES.items():
                self.uj[zone] += self.watts[part](self.t + dt / 2) * dt * 1e6
            self.t += dt
        for zone, uj in self.uj.items():
            set_energy(self.root, zone, round(uj))
        self.clock.t = t

    def sleep(self, dt: float) -> None:
        self.at(self.clock.t + dt)


@pytest.fixture
def node(tmp_path: Path, clock: FakeClock, install_nvml: Callable[..., Any]) -> Node:
    root = make_powercap(
        tmp_path / "pc",
        {"intel-rapl:0": ("package-0", 0, RANGE), "intel-rapl:0:0": ("dram", 0, RANGE)},
    )
    clock.t = 0.0
    watts = {"gpu": lambda t: 250.0, "package": lambda t: 40.0, "dram": lambda t: 6.0}
    install_nvml([FakeGPU(UUID, power_w=lambda t: watts["gpu"](t), energy_j=None)])
    return Node(root, clock, watts)


def meter_for(node: Node, **cfg: Any) -> EnergyMeter:
    settings = EnergyConfig(backends=["nvml", "rapl"], powercap_root=str(node.root), **cfg)
    return build_meter(settings, CUDA, clock=node.clock, sleep=node.sleep, threaded=False)


def run(meter: EnergyMeter, node: Node, name: str, start: float, end: float) -> Any:
    node.at(start)
    meter.begin(name)
    t = start
    while t < end - 1e-9:
        t = min(t + 0.5, end)
        node.at(t)
        if t < end:
            meter.poll()
    return meter.end(name)


def test_each_window_records_the_total_and_each_part(node: Node) -> None:
    meter = meter_for(node)
    m = run(meter, node, "round", 0.0, 4.0)
    assert (m.kind, m.backend) == (MEASURED, "nvml+rapl")
    assert m.parts_j == {
        "gpu": pytest.approx(1000.0),
        "cpu": pytest.approx(160.0),
        "dram": pytest.approx(24.0),
    }
    assert m.energy_j == pytest.approx(1184.0)
    assert m.per_device_j == {
        "cuda:0": pytest.approx(1000.0),
        "package-0": pytest.approx(160.0),
        "package-0/dram": pytest.approx(24.0),
    }
    metrics = measurement_metrics(m)
    assert metrics["energy_gpu_j"] == pytest.approx(1000.0)
    assert metrics["energy_cpu_j"] == pytest.approx(160.0)
    assert metrics["energy_dram_j"] == pytest.approx(24.0)
    assert metrics["power_mean_w"] == pytest.approx(296.0)


def test_nested_windows_share_the_readings(node: Node) -> None:
    meter = meter_for(node)
    node.at(0.0)
    meter.begin("round")
    inner = run(meter, node, "epoch", 1.0, 2.0)
    node.at(3.0)
    outer = meter.end("round")
    assert inner.parts_j["cpu"] == pytest.approx(40.0)
    assert outer.parts_j["cpu"] == pytest.approx(120.0)
    assert outer.parts_j["gpu"] == pytest.approx(750.0)


def test_idle_baseline_per_part_and_net_energy(node: Node) -> None:
    busy = 10.0  # the load starts at t = 10
    node.watts.update(
        gpu=lambda t: 60.0 if t < busy else 300.0,
        package=lambda t: 15.0 if t < busy else 45.0,
        dram=lambda t: 3.0 if t < busy else 5.0,
    )
    meter = meter_for(node, idle_s=2.0, settle_s=1.0)
    assert meter.measure_idle() == pytest.approx(78.0)
    assert meter.idle_power_parts_w == {
        "gpu": pytest.approx(60.0),
        "cpu": pytest.approx(15.0),
        "dram": pytest.approx(3.0),
    }
    m = run(meter, node, "round", busy, busy + 10.0)
    assert m.energy_net_j == pytest.approx(3500.0 - 780.0)
    assert m.parts_net_j == {
        "gpu": pytest.approx(3000.0 - 600.0),
        "cpu": pytest.approx(450.0 - 150.0),
        "dram": pytest.approx(50.0 - 30.0),
    }
    metrics = measurement_metrics(m)
    assert metrics["energy_gpu_net_j"] == pytest.approx(2400.0)
    assert metrics["energy_dram_net_j"] == pytest.approx(20.0)


def test_peak_power_adds_the_parts_at_the_same_instant(node: Node) -> None:
    # The GPU peaks over 1-2 s, the CPU over 3-4 s: the summed peak is neither part's alone.
    node.watts.update(
        gpu=lambda t: 400.0 if 1.0 < t <= 2.0 else 100.0,
        package=lambda t: 80.0 if 3.0 < t <= 4.0 else 20.0,
        dram=lambda t: 5.0,
    )
    meter = meter_for(node)
    m = run(meter, node, "w", 0.0, 5.0)
    assert m.power_peak_w == pytest.approx(400.0 + 20.0 + 5.0)


def test_gpu_measured_and_cpu_estimated_is_labelled_estimated(
    node: Node, install_nvml: Callable[..., Any]
) -> None:
    cpu = {"s": 0.0}
    settings = EnergyConfig(backends=["nvml", "estimate"], watts_per_core=10.0)
    meter = build_meter(
        settings, CUDA, clock=node.clock, cpu_time=lambda: cpu["s"], threaded=False
    )
    node.at(0.0)
    meter.begin("w")
    cpu["s"] = 3.0
    node.at(2.0)
    m = meter.end("w")
    assert meter.kind == ESTIMATED and m.kind == ESTIMATED
    assert m.parts_j == {"gpu": pytest.approx(500.0), "cpu": pytest.approx(30.0)}
