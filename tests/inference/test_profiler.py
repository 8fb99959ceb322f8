"""Measuring a profile, on a stand-in model in virtual time: what the profiler measures is what
the simulator replays, so on a machine that behaves the same every time the prediction of a run
is the run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from green_ai.energy import EnergyMeter
from green_ai.energy._simple import EstimateBackend
from green_ai.inference import (
    FixedBatching,
    GreedyBatching,
    ModelExecutor,
    Profile,
    TimeoutBatching,
    arrival_offsets,
    serve,
    simulate,
)
from green_ai.inference.batching import BatchingPolicy
from green_ai.inference.profiler import default_profile_path, device_slug, measure_profile
from green_ai.inference.settings import ProfileSettings

LAG_S = 0.0015  # every sleep oversleeps by this much
WATTS = 10.0  # the estimate backend's power per busy core


class VirtualTime:
    """A clock that sleeping and model work advance; `busy` is the process's CPU time."""

    def __init__(self) -> None:
        self.t = 0.0
        self.busy = 0.0

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds + LAG_S

    def work(self, seconds: float) -> None:
        self.t += seconds
        self.busy += seconds


class LinearModel(torch.nn.Module):
    """5 ms plus 1 ms per image, on the virtual clock."""

    def __init__(self, time: VirtualTime) -> None:
        super().__init__()
        self.time = time

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.time.work(0.005 + 0.001 * x.shape[0])
        return torch.zeros(x.shape[0], 10)


def _rig() -> tuple[VirtualTime, ModelExecutor, EnergyMeter]:
    vt = VirtualTime()
    backend = EstimateBackend(WATTS, cpu_time=lambda: vt.busy)
    meter = EnergyMeter(
        [backend], torch.device("cpu"), clock=vt.clock, sleep=vt.sleep, threaded=False
    )
    executor = ModelExecutor(
        LinearModel(vt),
        torch.zeros(8, 3, 2, 2),
        torch.device("cpu"),
        meter=meter,
        clock=vt.clock,
        sleep=vt.sleep,
    )
    return vt, executor, meter


SETTINGS = ProfileSettings(
    batch_sizes=(1, 2, 4, 8),
    min_time_s=0.05,
    min_repeats=3,
    pauses_s=(0.1, 1.0),
    idle_s=0.5,
    wakeups=20,
)


def _profile() -> Profile:
    vt, executor, meter = _rig()
    return measure_profile(executor, meter, SETTINGS, meta={"model": "linear"}, sleep=vt.sleep)


def test_the_profile_holds_every_timed_batch_and_the_loops_own_costs() -> None:
    p = _profile()
    assert p.batch_sizes == [1, 2, 4, 8]
    assert p.service_s == pytest.approx([0.006, 0.007, 0.009, 0.013])
    # At least 0.05 s of each size, in four blocks spread over the profile.
    assert [len(s) for s in p.service_samples_s or []] == [12, 8, 8, 4]
    assert p.energy_j == pytest.approx([WATTS * t for t in p.service_s])
    assert p.pauses_s == [0.1, 1.0]
    assert p.service_cold_samples_s is not None and len(p.service_cold_samples_s) == 2
    assert p.pause_power_w == pytest.approx([0.0, 0.0])  # sleeping costs no CPU time
    assert p.idle_power_w == pytest.approx(0.0)
    assert p.idle_s == pytest.approx(0.5 + LAG_S)
    # 20 arrivals to sleep for (in chunks), less those the previous sleep's lag overslept.
    assert 8 < len(p.wake_lag_s or []) <= 20
    assert p.wake_lag_s == pytest.approx([LAG_S] * len(p.wake_lag_s or []))
    assert p.wake_energy_j == pytest.approx(0.0)
    assert p.meta["model"] == "linear" and p.meta["energy.backend"] == "estimate"


@pytest.mark.parametrize(
    "policy", [FixedBatching(4), GreedyBatching(8), TimeoutBatching(8, 0.05)], ids=str
)
@pytest.mark.parametrize("frequency", [20.0, 400.0])
def test_on_a_steady_machine_the_prediction_is_the_run(
    policy: BatchingPolicy, frequency: float
) -> None:
    profile = _profile()
    arrivals = arrival_offsets(frequency=frequency, requests=60, arrivals="poisson", seed=3)
    vt, executor, meter = _rig()
    executor.start()
    meter.begin("run")
    real = serve(arrivals, policy, executor)
    energy = meter.end("run").energy_j
    predicted, ideal = simulate(profile, arrivals, policy)
    assert [b.size for b in real.batches] == [b.size for b in ideal.batches]
    assert ideal.response_s == pytest.approx(real.response_s, abs=1e-9)
    assert ideal.wake_lags == pytest.approx(real.wake_lags)
    assert predicted.energy_j == pytest.approx(energy)


def test_profile_files_are_named_for_the_real_device(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert device_slug(cpu) == "cpu"
    assert default_profile_path("alexnet", 224, cpu).name == "alexnet-224-cpu.json"
    assert default_profile_path("alexnet", 224, cpu).parent.parts[-2:] == ("outputs", "profiles")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200 NVL")
    gpu = torch.device("cuda", 0)
    assert device_slug(gpu) == "cuda0-nvidia-h200-nvl"
    assert (
        default_profile_path("vit_b_16", 64, gpu).name == "vit_b_16-64-cuda0-nvidia-h200-nvl.json"
    )


def test_the_simulator_keeps_the_real_lag_statistics() -> None:
    profile = _profile()
    arrivals = np.arange(50) / 20
    _, trace = simulate(profile, arrivals, GreedyBatching(8))
    assert max(trace.wake_lags) == pytest.approx(LAG_S)
