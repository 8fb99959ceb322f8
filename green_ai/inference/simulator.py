"""What-if simulator: predict an inference run from a `Profile` of the model, in virtual time.

`simulate` drives the real server loop (`server.serve`) with a `VirtualExecutor` whose clock
jumps from event to event, so a prediction makes the same batching decisions a real run makes;
8192 requests take a fraction of a second. What the real loop spends besides the model is
replayed from the profile too (issue 12): each sleep wakes late by a lag drawn from the
profiled lags, each batch takes a service time drawn from the profiled distribution for its
size and the time the model idled before it, and each wake-up costs the loop's own energy. The
draws are seeded, so a prediction repeats exactly.

Energy is gross, as the real run measures it (thesis §4.2.3): the batches' energy, the energy
of idling through every gap between them, and the loop's wake-ups.
"""

from __future__ import annotations

import random

import numpy as np

from green_ai.inference.batching import BatchingPolicy
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.profile import Profile
from green_ai.inference.server import BatchRecord, Trace, serve

__all__ = ["VirtualExecutor", "simulate"]


class VirtualExecutor:
    """The server's executor in virtual time: waiting and serving just move the clock.

    Each batch is priced by how long the model idled before it; the first batch as after the
    longest pause profiled (a run starts after the warm-up and the tracking set-up).
    `energy_j` adds up what the run would measure; `None` when the profile has no energy.
    """

    def __init__(self, profile: Profile, *, seed: int = 0) -> None:
        self.profile = profile
        self.clock = 0.0
        self.busy_s = 0.0
        self.wakeups = 0
        self._rng = random.Random(seed)
        self._last_end = -float("inf")
        self._idle_from = 0.0  # the run's window opens at time zero
        self._energy: float | None = 0.0
        if profile.energy_j is None or profile.idle_power_w is None:
            self._energy = None

    @property
    def energy_j(self) -> float | None:
        if self._energy is None:
            return None
        return self._energy + self.wakeups * (self.profile.wake_energy_j or 0.0)

    def now(self) -> float:
        return self.clock

    def wait_until(self, t: float) -> float:
        if t > self.clock:  # the real loop sleeps only when the target is ahead
            self.clock = t + self.profile.wake_lag(self._rng.random())
            self.wakeups += 1
        return self.clock

    def process(self, first: int, size: int) -> BatchRecord:
        start = self.clock
        idle = start - self._last_end
        service = self.profile.service_time(size, idle_s=idle, quantile=self._rng.random())
        energy = self.profile.batch_energy(size, idle_s=idle)
        if self._energy is not None:
            gap = self.profile.idle_energy(start - self._idle_from) or 0.0
            self._energy += gap + (energy or 0.0)
        self.clock += service
        self._last_end = self._idle_from = self.clock
        self.busy_s += service
        return BatchRecord(
            first=first,
            size=size,
            start_s=start,
            end_s=self.clock,
            energy_j=energy,
            power_peak_w=self.profile.batch_peak_power(size),
        )


def simulate(
    profile: Profile,
    arrivals: np.ndarray,
    policy: BatchingPolicy,
    *,
    seed: int = 0,
    grid_intensity_g_per_kwh: float | None = None,
) -> tuple[RunMetrics, Trace]:
    """Predicted metrics (and the virtual trace) of serving `arrivals` with `policy`."""
    executor = VirtualExecutor(profile, seed=seed)
    trace = serve(arrivals, policy, executor)
    metrics = run_metrics(
        trace, energy_j=executor.energy_j, grid_intensity_g_per_kwh=grid_intensity_g_per_kwh
    )
    return metrics, trace
