"""A study on a GPU that heats up: each round's start temperature is logged, and rises
(thesis §4.6.1: a later cell runs on a warmer device than an earlier one)."""

from __future__ import annotations

import time
from collections.abc import Callable

import mlflow
import pytest
import torch
from mlflow import MlflowClient
from omegaconf import DictConfig

from green_ai.energy import EnergyMeter
from green_ai.energy._nvml import NvmlBackend
from green_ai.search import study as study_module
from green_ai.train import train

from .fakes import FakeGPU, fake_pynvml

pytestmark = pytest.mark.slow  # trains a study


def test_start_temperature_rises_across_rounds(
    make_cfg: Callable[..., DictConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = time.perf_counter()
    gpu = FakeGPU(
        "GPU-11111111-aaaa-4000-8000-000000000000",
        power_w=lambda t: 300.0,
        energy_j=lambda t: 300.0 * (t - t0),
        temp_c=lambda t: 35.0 + 40.0 * (t - t0),  # 40 °C a second: rounds apart by degrees
        sm_clock_mhz=lambda t: 1980.0,
    )
    nvml = fake_pynvml([gpu], time.perf_counter)

    def meter(settings: object, device: torch.device) -> EnergyMeter:
        backend = NvmlBackend(nvml, [("cuda:0", gpu, gpu.name)], use_counter=True)
        return EnergyMeter([backend], device, idle_s=0.0)

    monkeypatch.setattr(study_module, "build_meter", meter)
    cfg = make_cfg("energy=estimate", "rounds=3", "repetitions=2")
    train(cfg)
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    rounds = sorted(
        (r for r in runs if r.data.tags["green_ai.kind"] == "train_round"),
        key=lambda r: int(r.data.params.get("round", r.info.start_time)),
    )
    starts = [r.data.metrics["temp_c_start"] for r in rounds]
    assert len(starts) == 3 and starts == sorted(starts) and starts[0] < starts[-1]
    for r in rounds:
        m = r.data.metrics
        assert m["temp_c_end"] > m["temp_c_start"] and m["sm_clock_mhz_mean"] == 1980.0
        reps = client.get_metric_history(r.info.run_id, "rep_temp_c_start")
        assert [h.step for h in sorted(reps, key=lambda h: h.step)] == [0, 1]


def test_idle_power_is_measured_again_and_its_drift_logged(
    make_cfg: Callable[..., DictConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = time.perf_counter()
    # Idle power creeps up by 100 W a second (a neighbour's load, a warming room).
    gpu = FakeGPU(
        "GPU-11111111-aaaa-4000-8000-000000000000",
        power_w=lambda t: 50.0 + 100.0 * (t - t0),
        energy_j=lambda t: 50.0 * (t - t0) + 50.0 * (t - t0) ** 2,
    )
    nvml = fake_pynvml([gpu], time.perf_counter)

    def meter(settings: object, device: torch.device) -> EnergyMeter:
        backend = NvmlBackend(nvml, [("cuda:0", gpu, gpu.name)], use_counter=True)
        return EnergyMeter([backend], device, idle_s=0.2, settle_s=0.0)

    monkeypatch.setattr(study_module, "build_meter", meter)
    cfg = make_cfg("energy=estimate", "rounds=3", "repetitions=1", "energy.idle_every_s=0.001")
    outcome = train(cfg)
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    idle = sorted(
        client.get_metric_history(outcome.parent_run_id, "idle_power_w"), key=lambda m: m.step
    )
    drift = sorted(
        client.get_metric_history(outcome.parent_run_id, "idle_drift_w"), key=lambda m: m.step
    )
    assert [m.step for m in idle] == [0, 1, 2] and [m.step for m in drift] == [1, 2]
    assert idle[0].value < idle[1].value < idle[2].value
    assert drift[1].value == pytest.approx(idle[2].value - idle[0].value)
    assert 0 < drift[0].value < drift[1].value
