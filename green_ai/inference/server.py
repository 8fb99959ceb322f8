"""The server loop: one thread, driven by events, in real or virtual time.

Whenever the model is free the loop counts the requests that have arrived by the clock (the
schedule is absolute, `stream.arrival_offsets`), asks the batching policy, and either serves a
batch or sleeps until the next arrival or the policy's deadline. Nothing runs beside the model,
so the stream cannot slow the model down and the model cannot delay an arrival: a request that
comes while a batch runs simply has its scheduled time as its arrival time, and its wait counts
in its response time. The only way the loop can fall behind the schedule is oversleeping; every
wake-up's lateness is kept (`wake_lags`) and reported as `arrival_lag_max_s`.

The same loop drives the simulator: an `Executor` provides the clock, the sleeping and the
batch execution, either on a real model (`ModelExecutor`) or in virtual time
(`simulator.VirtualExecutor`). A next-event simulation of one server needs nothing more: the
next event is always the earliest of the next arrival, the policy's deadline and the end of the
running batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from green_ai.inference.batching import BatchingPolicy

__all__ = ["BatchRecord", "Executor", "ModelExecutor", "Trace", "serve", "verify"]


@dataclass(frozen=True)
class BatchRecord:
    """Requests `first` .. `first + size - 1`, served from `start_s` until their results were on
    the host at `end_s` (seconds from the run's start)."""

    first: int
    size: int
    start_s: float
    end_s: float
    energy_j: float | None = None
    power_peak_w: float | None = None


@dataclass
class Trace:
    """Everything a run did, in seconds from its start."""

    arrivals: np.ndarray
    completions: np.ndarray
    batches: list[BatchRecord] = field(default_factory=list)
    wake_lags: list[float] = field(default_factory=list)

    @property
    def response_s(self) -> np.ndarray:
        return self.completions - self.arrivals


class Executor(Protocol):
    def now(self) -> float:
        """Seconds since the run's start."""
        ...

    def wait_until(self, t: float) -> float:
        """Idle until time `t`; return the time it woke up (never earlier than `t`)."""
        ...

    def process(self, first: int, size: int) -> BatchRecord:
        """Serve requests `first` .. `first + size - 1` as one batch."""
        ...


def serve(arrivals: np.ndarray, policy: BatchingPolicy, executor: Executor) -> Trace:
    """Serve every request of `arrivals` (sorted offsets) in FIFO batches chosen by `policy`."""
    n = len(arrivals)
    trace = Trace(arrivals=arrivals, completions=np.full(n, np.nan))
    head = 0  # the oldest request not yet served; the queue is arrivals[head:arrived]
    while head < n:
        now = executor.now()
        arrived = int(np.searchsorted(arrivals, now, side="right"))
        waiting = arrived - head
        decision = policy.decide(
            waiting=waiting,
            oldest_arrival=float(arrivals[head]),
            now=now,
            more_coming=arrived < n,
        )
        if decision.take > 0:
            size = min(decision.take, waiting)
            batch = executor.process(head, size)
            done = trace.completions[head : head + size]
            if not np.all(np.isnan(done)):
                raise RuntimeError(f"requests {head}..{head + size - 1} answered twice")
            done[:] = batch.end_s
            trace.batches.append(batch)
            head += size
            continue
        candidates = [float(arrivals[arrived])] if arrived < n else []
        if decision.deadline is not None:
            candidates.append(decision.deadline)
        if not candidates:
            raise RuntimeError(f"{policy.describe()} waits with {waiting} queued and none to come")
        target = min(candidates)
        woke = executor.wait_until(target)
        trace.wake_lags.append(max(0.0, woke - target))
    verify(trace)
    return trace


def verify(trace: Trace) -> None:
    """Every request answered exactly once, in arrival order, never before it arrived.

    Raises `RuntimeError` naming the first violation: a run that breaks these is not a
    measurement of the policy it claims to be.
    """
    n = len(trace.arrivals)
    expected_first = 0
    for b in trace.batches:
        if b.first != expected_first or b.size < 1:
            raise RuntimeError(
                f"batch at request {b.first} breaks FIFO (expected {expected_first})"
            )
        last_arrival = float(trace.arrivals[b.first + b.size - 1])
        if b.start_s < last_arrival:
            raise RuntimeError(f"batch at request {b.first} started before its requests arrived")
        if b.end_s < b.start_s:
            raise RuntimeError(f"batch at request {b.first} ended before it started")
        expected_first += b.size
    if expected_first != n:
        raise RuntimeError(f"{expected_first} of {n} requests were answered")
    if np.isnan(trace.completions).any():
        raise RuntimeError("some requests have no answer")


class ModelExecutor:
    """Runs batches on a model in real time; the response time ends with results on the host.

    The batch's outputs are copied to the host (`.cpu()` waits for the device) and the device is
    synchronised before the time is read — the original testbed read the clock without
    synchronising, so most GPU work fell outside its latencies (SPEC, "Known defects").

    Every batch of n requests sends the first n images of one pre-made host buffer: the same
    pixels each time, allocated once, before the run. That costs what fresh images would: a
    torchvision classifier does the same arithmetic whatever the pixel values, and a server's
    fresh request is an image it has just decoded, so it is as warm in the caches as a reused
    one. A ring of distinct images would double a buffer that is already 77 MB at 224 px for
    a batch of 128 (pinned memory, on a GPU) and make a batch's cost depend on where the ring
    wrapped.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        inputs: torch.Tensor,
        device: torch.device,
        *,
        meter: Any | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.model = model
        self.inputs = inputs
        self.device = device
        self.meter = meter
        self._clock = clock
        self._sleep = sleep
        self._t0 = clock()

    def start(self) -> None:
        """Make now the run's time zero."""
        self._t0 = self._clock()

    def now(self) -> float:
        return self._clock() - self._t0

    def wait_until(self, t: float) -> float:
        delay = t - self.now()
        if delay > 0:
            self._sleep(delay)
        return self.now()

    def run_batch(self, size: int) -> torch.Tensor:
        """One synchronised forward pass of `size` images; the predicted classes on the host."""
        x = self.inputs[:size].to(self.device, non_blocking=True)
        preds = self.model(x).argmax(dim=1).cpu()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return preds

    def process(self, first: int, size: int) -> BatchRecord:
        start = self.now()
        if self.meter is not None:
            self.meter.begin("batch")
        preds = self.run_batch(size)
        end = self.now()
        m = self.meter.end("batch") if self.meter is not None else None
        if preds.shape[0] != size:
            raise RuntimeError(f"batch of {size} requests got {preds.shape[0]} answers")
        return BatchRecord(
            first=first,
            size=size,
            start_s=start,
            end_s=end,
            energy_j=None if m is None else m.energy_j,
            power_peak_w=None if m is None else m.power_peak_w,
        )
