"""The real-time server loop on a stand-in model whose service time is known."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

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
from green_ai.inference.server import BatchRecord

SERVICE_S = 0.02


class SleepyClassifier(torch.nn.Module):
    """Takes `SERVICE_S` per batch whatever its size, and answers class 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(SERVICE_S)
        return torch.zeros(x.shape[0], 10)


class CountingMeter:
    """Stands in for the energy meter: records windows, reports a peak power per batch."""

    def __init__(self) -> None:
        self.open: list[str] = []
        self.closed = 0

    def begin(self, name: str) -> None:
        self.open.append(name)

    def end(self, name: str) -> object:
        assert self.open.pop() == name
        self.closed += 1
        return type("M", (), {"energy_j": 0.5, "power_peak_w": 40.0 + self.closed})()


def _executor(meter: object | None = None) -> ModelExecutor:
    inputs = torch.zeros(16, 3, 4, 4)
    return ModelExecutor(SleepyClassifier(), inputs, torch.device("cpu"), meter=meter)


@pytest.mark.slow
@pytest.mark.parametrize(
    "policy", [FixedBatching(4), GreedyBatching(8), TimeoutBatching(6, 0.05)], ids=str
)
def test_real_runs_match_the_simulated_schedule(policy: BatchingPolicy) -> None:
    arrivals = arrival_offsets(frequency=100, requests=30, arrivals="poisson", seed=1)
    executor = _executor()
    executor.start()
    real = serve(arrivals, policy, executor)
    predicted, ideal = simulate(Profile([1, 16], [SERVICE_S, SERVICE_S]), arrivals, policy)
    # Responses run from the scheduled arrival to the answer: never shorter than one service.
    assert np.all(real.response_s >= SERVICE_S)
    assert max(real.wake_lags, default=0.0) < 0.05
    # Same decisions in real and virtual time, up to the sleeps' overshoot (a few ms each).
    if policy.name != "greedy":  # greedy's batches depend on who made it by a few ms
        assert [b.size for b in real.batches] == [b.size for b in ideal.batches]
    assert np.abs(real.response_s - ideal.response_s).max() < 0.05
    assert real.response_s.max() == pytest.approx(predicted.response_max_s, abs=0.05)


class DecisionClock:
    """Wraps an executor and keeps the loop's last clock reading before each batch: the moment
    the batching decision was taken (`process` reads the clock again a moment later)."""

    def __init__(self, inner: ModelExecutor) -> None:
        self.inner = inner
        self.last_now = 0.0
        self.decided_at: list[float] = []

    def now(self) -> float:
        self.last_now = self.inner.now()
        return self.last_now

    def wait_until(self, t: float) -> float:
        return self.inner.wait_until(t)

    def process(self, first: int, size: int) -> BatchRecord:
        self.decided_at.append(self.last_now)
        return self.inner.process(first, size)


@pytest.mark.slow
def test_arrivals_keep_their_schedule_while_the_model_is_busy() -> None:
    # 200 requests/s against 20 ms batches: about four requests arrive during every batch.
    # They are counted at their scheduled times, not when the loop got round to them, so each
    # greedy batch takes exactly what the schedule says had arrived when it was formed, and the
    # run ends one service after the last arrival instead of drifting later.
    arrivals = arrival_offsets(frequency=200, requests=60)
    executor = _executor()
    executor.start()
    clock = DecisionClock(executor)
    trace = serve(arrivals, GreedyBatching(8), clock)
    assert len(clock.decided_at) == len(trace.batches)
    for b, decided in zip(trace.batches, clock.decided_at, strict=True):
        arrived = int(np.searchsorted(arrivals, decided, side="right"))
        assert b.size == min(arrived - b.first, 8)
        assert decided <= b.start_s
    assert np.mean([b.size for b in trace.batches]) > 3
    assert trace.completions.max() - arrivals[-1] < 2 * SERVICE_S + 0.05


def test_every_batch_gets_its_own_meter_window() -> None:
    meter = CountingMeter()
    arrivals = arrival_offsets(frequency=400, requests=12)
    executor = _executor(meter)
    executor.start()
    trace = serve(arrivals, FixedBatching(4), executor)
    assert meter.closed == len(trace.batches) == 3
    assert meter.open == []
    assert [b.power_peak_w for b in trace.batches] == [41.0, 42.0, 43.0]
    assert all(b.energy_j == 0.5 for b in trace.batches)


@pytest.mark.needs_cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_on_cuda_the_response_includes_the_gpu_work() -> None:
    # A matrix product big enough to take milliseconds on any GPU: timed without
    # synchronising, it would look like microseconds (SPEC, "Known defects").
    device = torch.device("cuda")

    class Heavy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = torch.ones(4096, 4096, device=x.device)
            y = x.flatten(1)[:, :1].expand(-1, 4096)
            for _ in range(50):
                y = (y @ w).clamp(max=1.0)
            return y[:, :10]

    inputs = torch.zeros(8, 3, 4, 4)
    executor = ModelExecutor(Heavy(), inputs, device)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    with torch.inference_mode():
        executor.run_batch(8)
        start.record()
        executor.run_batch(8)
        end.record()
        torch.cuda.synchronize()
        gpu_s = start.elapsed_time(end) / 1e3
        executor.start()
        trace = serve(arrival_offsets(frequency=1000, requests=16), FixedBatching(8), executor)
    assert all(b.end_s - b.start_s >= 0.8 * gpu_s for b in trace.batches)
