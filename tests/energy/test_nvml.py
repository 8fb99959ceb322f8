"""The NVML backend against a fake `pynvml`: exact joules for scripted traces."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy import MEASURED, UNAVAILABLE, EnergyMeter, build_meter
from green_ai.energy._nvml import visible_nvml_indices
from green_ai.errors import UserError

from .fakes import FakeClock, FakeGPU

CUDA = torch.device("cuda:0")
UUIDS = [
    "GPU-11111111-aaaa-4000-8000-000000000000",
    "GPU-22222222-bbbb-4000-8000-000000000000",
    "GPU-33333333-cccc-4000-8000-000000000000",
]


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real GPU: torch reports none, so the meter maps devices via CUDA_VISIBLE_DEVICES."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


def meter_for(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    device: torch.device = CUDA,
    **cfg: Any,
) -> EnergyMeter:
    return build_meter(
        energy_cfg("nvml", **cfg), device, clock=clock, sleep=clock.sleep, threaded=False
    )


def run_samples(meter: EnergyMeter, clock: FakeClock, times: list[float]) -> None:
    for t in times:
        clock.t = t
        meter.poll()


def test_constant_power_polling(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 250.0, util_pct=40)])
    meter = meter_for(energy_cfg, clock)
    clock.t = 0.0
    meter.begin("epoch")
    run_samples(meter, clock, [0.1 * i for i in range(1, 100)])
    clock.t = 10.0
    m = meter.end("epoch")
    assert (m.backend, m.kind) == ("nvml", MEASURED)
    assert m.energy_j == pytest.approx(2500.0)
    assert m.power_mean_w == pytest.approx(250.0)
    assert m.power_peak_w == pytest.approx(250.0)
    assert m.gpu_util_mean == pytest.approx(40.0)
    assert m.per_device_j == {"cuda:0": pytest.approx(2500.0)}


def test_power_step_is_integrated_by_trapezoid(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # 100 W until t=4.5, 200 W after; samples every second, edges at 0 and 10.
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 100.0 if t < 4.5 else 200.0)])
    meter = meter_for(energy_cfg, clock)
    clock.t = 0.0
    meter.begin("round")
    run_samples(meter, clock, [1, 2, 3, 4, 5, 6, 7, 8, 9])
    clock.t = 10.0
    m = meter.end("round")
    # 4 s at 100 W, the 4->5 s interval as a trapezoid (150 W), 5 s at 200 W.
    assert m.energy_j == pytest.approx(4 * 100 + 150 + 5 * 200)
    assert m.power_peak_w == pytest.approx(200.0)


def test_hardware_counter_gives_energy_and_samples_give_peak(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    # The counter integrates a 300 W load exactly; the sampled power only sees 280-320 W.
    gpu = FakeGPU(
        UUIDS[0],
        power_w=lambda t: 320.0 if int(t) % 2 else 280.0,
        energy_j=lambda t: 1e6 + 300.0 * t,
    )
    install_nvml([gpu])
    meter = meter_for(energy_cfg, clock, interval_s=0.1)
    assert "counter" in meter.describe()
    clock.t = 2.0
    meter.begin("epoch")
    run_samples(meter, clock, [2.5, 3.5, 4.5])
    clock.t = 5.0
    m = meter.end("epoch")
    assert m.energy_j == pytest.approx(900.0)  # from the counter, not the samples
    assert m.power_peak_w == pytest.approx(320.0)


def test_missing_counter_falls_back_to_polling(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 60.0 + 10.0 * t, energy_j=None)])
    meter = meter_for(energy_cfg, clock)
    assert "polled every 100 ms" in meter.describe()
    clock.t = 0.0
    meter.begin("w")
    run_samples(meter, clock, [1.0, 2.0])
    clock.t = 4.0
    m = meter.end("w")
    # A linear ramp 60 -> 100 W over 4 s: trapezoids are exact, 320 J.
    assert m.energy_j == pytest.approx(320.0)
    assert m.power_peak_w == pytest.approx(100.0)


def test_counter_false_forces_polling(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 100.0, energy_j=lambda t: 7.0 * t)])
    meter = meter_for(energy_cfg, clock, counter=False)
    clock.t = 0.0
    meter.begin("w")
    clock.t = 2.0
    assert meter.end("w").energy_j == pytest.approx(200.0)


def test_several_gpus_summed_and_reported_per_device(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml(
        [
            FakeGPU(UUIDS[0], power_w=lambda t: 100.0, util_pct=20),
            FakeGPU(UUIDS[1], power_w=lambda t: 300.0, util_pct=60),
        ]
    )
    meter = meter_for(energy_cfg, clock, devices=[0, 1])
    assert [n.split()[0] for n in meter.device_names] == ["cuda:0", "cuda:1"]
    clock.t = 0.0
    meter.begin("w")
    clock.t = 2.0
    m = meter.end("w")
    assert m.per_device_j == {"cuda:0": pytest.approx(200.0), "cuda:1": pytest.approx(600.0)}
    assert m.energy_j == pytest.approx(800.0)
    assert m.power_peak_w == pytest.approx(400.0)
    assert m.gpu_util_mean == pytest.approx(40.0)


def test_visible_devices_map_by_uuid(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_nvml([FakeGPU(u, name=f"GPU{i}", power_w=lambda t: 1.0) for i, u in enumerate(UUIDS)])
    # The process sees NVML's GPU 2 as cuda:0 and GPU 0 as cuda:1.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUIDS[2]},{UUIDS[0]}")
    assert meter_for(energy_cfg, clock, torch.device("cuda:0")).device_names == ["cuda:0 GPU2"]
    assert meter_for(energy_cfg, clock, torch.device("cuda:1")).device_names == ["cuda:1 GPU0"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, [0, 1, 2]),
        ("2,0", [2, 0]),
        (f"{UUIDS[1]}", [1]),
        ("33333333-cccc", [2]),  # a unique prefix, without the GPU- prefix
        ("GPU-2222", [1]),  # a unique prefix with it
        (" 1 , GPU-3333", [1, 2]),
        ("1,7,0", [1]),  # as in CUDA, an invalid entry ends the list
        ("", []),
        ("-1", []),
    ],
)
def test_visible_nvml_indices_from_env(env: str | None, expected: list[int]) -> None:
    assert visible_nvml_indices(UUIDS, env) == expected


def test_torch_uuids_take_precedence_over_env() -> None:
    torch_uuids = [UUIDS[2][4:], UUIDS[1][4:]]  # torch reports UUIDs without the prefix
    assert visible_nvml_indices(UUIDS, "0,1", torch_uuids) == [2, 1]
    with pytest.raises(UserError):
        visible_nvml_indices(UUIDS, None, ["99999999-0000-0000-0000-000000000000"])


def test_invisible_device_is_a_user_error(
    energy_cfg: Callable[..., EnergyConfig],
    clock: FakeClock,
    install_nvml: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nvml = install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 1.0)])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", UUIDS[0])
    with pytest.raises(UserError, match="CUDA device 1 is not visible"):
        meter_for(energy_cfg, clock, torch.device("cuda:1"))
    assert nvml.calls["shutdown"] == nvml.calls["init"]


def test_error_at_window_edge_never_raises(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    gpu = FakeGPU(UUIDS[0], power_w=lambda t: 100.0, lost_at=1.0)
    install_nvml([gpu])
    clock.t = 0.0
    meter = meter_for(energy_cfg, clock)
    clock.t = 1.5
    meter.begin("w")  # fails at the opening edge
    clock.t = 2.0
    m = meter.end("w")
    assert m.kind == UNAVAILABLE and m.reason is not None and "NVML" in m.reason


def test_nvml_missing_is_a_one_line_user_error(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([], library_missing=True)
    with pytest.raises(UserError) as err:
        meter_for(energy_cfg, clock)
    message = str(err.value)
    assert "\n" not in message
    assert "energy=nvml" in message and "energy=estimate" in message and "energy=none" in message


def test_nvml_on_cpu_training_is_a_user_error(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 1.0)])
    with pytest.raises(UserError, match="energy.devices"):
        meter_for(energy_cfg, clock, torch.device("cpu"))


def test_gpu_without_any_sensor_is_a_user_error(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=None, energy_j=None)])
    with pytest.raises(UserError, match="neither an energy counter nor a power reading"):
        meter_for(energy_cfg, clock)


def test_close_shuts_nvml_down_once(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    nvml = install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 1.0)])
    meter = meter_for(energy_cfg, clock)
    meter.close()
    meter.close()
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_idle_baseline_with_nvml(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, install_nvml: Callable[..., Any]
) -> None:
    install_nvml([FakeGPU(UUIDS[0], power_w=lambda t: 60.0 if t < 200 else 260.0)])
    meter = meter_for(energy_cfg, clock, idle_s=2.0, settle_s=1.0)
    assert meter.measure_idle() == pytest.approx(60.0)
    clock.t = 200.0
    meter.begin("round")
    clock.t = 210.0
    m = meter.end("round")
    assert m.energy_j == pytest.approx(2600.0)
    assert m.energy_net_j == pytest.approx(2600.0 - 600.0)


def test_background_sampler_takes_samples(
    energy_cfg: Callable[..., EnergyConfig], install_nvml: Callable[..., Any]
) -> None:
    # Real time and the real thread: the peak happens only between the edges, so only the
    # sampler can see it.
    state = {"w": 50.0}
    reads: list[float] = []

    def power(_: float) -> float:
        reads.append(state["w"])
        return state["w"]

    install_nvml([FakeGPU(UUIDS[0], power_w=power)])
    meter = build_meter(energy_cfg("nvml", interval_s=0.005), CUDA)
    meter.begin("w")
    state["w"] = 400.0
    deadline = time.monotonic() + 5.0
    while reads.count(400.0) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    state["w"] = 50.0
    m = meter.end("w")
    meter.close()
    assert m.power_peak_w == pytest.approx(400.0)
    assert m.energy_j is not None and m.energy_j > 0
