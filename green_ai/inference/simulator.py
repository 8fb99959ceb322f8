"""What-if simulator: predict an inference run from a profile of the model, in virtual time.

A `Profile` holds what one model costs on one device: the service time and gross energy of a
batch at a few batch sizes (linear in between, linear beyond the largest), and the idle power.
A batch that follows a pause costs more than one that follows another batch, and the more the
longer the pause (caches, clocks and the scheduler go cold; a slow stream serves only such
batches). So a profile holds `service_s`/`energy_j` back to back and, optionally,
`service_cold_s`/`energy_cold_j` after each pause in `pauses_s`; a batch is priced by the time
the server idled before it, interpolated between those pauses on a log scale.
`simulate` drives the real server loop (`server.serve`) with a `VirtualExecutor` whose clock
jumps from event to event, so a prediction makes the same batching decisions a real run makes;
8192 requests take a fraction of a second. Energy is predicted as the batches' energy plus idle
power over the time the model waits — gross, as the real run measures it (thesis §4.2.3).

`recommend` is the tuning procedure of thesis §4.5.1 made automatic: among candidate batch
sizes and policies, the least energy per image whose predicted p99 (or maximum) response time
stays within a limit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from green_ai.errors import UserError
from green_ai.inference.batching import (
    BatchingPolicy,
    FixedBatching,
    GreedyBatching,
    TimeoutBatching,
)
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.server import BatchRecord, Trace, serve

__all__ = [
    "Candidate",
    "Profile",
    "VirtualExecutor",
    "candidates",
    "recommend",
    "simulate",
]


@dataclass(frozen=True)
class Profile:
    """Cost of one model on one device, per batch size (sorted, distinct)."""

    batch_sizes: list[int]
    service_s: list[float]
    energy_j: list[float] | None = None
    power_peak_w: list[float] | None = None
    idle_power_w: float | None = None
    pauses_s: list[float] | None = None
    service_cold_s: list[list[float]] | None = None
    energy_cold_j: list[list[float]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = self.batch_sizes
        if not sizes or sorted(set(sizes)) != list(sizes) or sizes[0] < 1:
            raise ValueError(f"profile batch sizes must be distinct, sorted and >= 1: {sizes}")
        rows = [(n, [getattr(self, n)]) for n in ("service_s", "energy_j", "power_peak_w")]
        rows += [(n, getattr(self, n) or []) for n in ("service_cold_s", "energy_cold_j")]
        for name, lists in rows:
            for values in lists:
                if values is not None and len(values) != len(sizes):
                    raise ValueError(f"profile {name} has {len(values)} values for {sizes}")
        pauses = self.pauses_s or []
        if sorted(set(pauses)) != list(pauses) or any(p <= 0 for p in pauses):
            raise ValueError(f"profile pauses must be distinct, sorted and > 0: {pauses}")
        for name in ("service_cold_s", "energy_cold_j"):
            lists = getattr(self, name)
            if lists is not None and len(lists) != len(pauses):
                raise ValueError(f"profile {name} needs one row per pause in {pauses}")

    def service_time(self, size: int, *, idle_s: float = 0.0) -> float:
        """Seconds to serve `size` requests after the model idled `idle_s` seconds."""
        hot = _interp(size, self.batch_sizes, self.service_s)
        return self._after_pause(size, idle_s, hot, self.service_cold_s)

    def batch_energy(self, size: int, *, idle_s: float = 0.0) -> float | None:
        if self.energy_j is None:
            return None
        hot = _interp(size, self.batch_sizes, self.energy_j)
        return self._after_pause(size, idle_s, hot, self.energy_cold_j)

    def _after_pause(
        self, size: int, idle_s: float, hot: float, cold: list[list[float]] | None
    ) -> float:
        if idle_s <= 0 or not self.pauses_s or cold is None:
            return hot
        pauses = self.pauses_s
        values = [_interp(size, self.batch_sizes, row) for row in cold]
        if idle_s >= pauses[-1]:
            return values[-1]
        if idle_s <= pauses[0]:  # from back to back (no pause) to the shortest pause
            return hot + (values[0] - hot) * idle_s / pauses[0]
        return float(np.interp(np.log(idle_s), np.log(pauses), values))

    def batch_peak_power(self, size: int) -> float | None:
        if self.power_peak_w is None:
            return None
        return _interp(size, self.batch_sizes, self.power_peak_w)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"cannot read the inference profile {path}: {exc}") from exc


def _interp(size: int, xs: Sequence[int], ys: Sequence[float]) -> float:
    """Piecewise linear in the batch size; beyond the ends, the nearest segment extended (never
    below zero)."""
    if len(xs) == 1:
        return float(ys[0]) * size / xs[0]
    if size <= xs[0]:
        i = 0
    elif size >= xs[-1]:
        i = len(xs) - 2
    else:
        return float(np.interp(size, xs, ys))
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return max(0.0, float(ys[i] + slope * (size - xs[i])))


class VirtualExecutor:
    """The server's executor in virtual time: waiting and serving just move the clock.

    Each batch is priced by how long the model idled before it; the first batch as after the
    longest pause profiled.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.clock = 0.0
        self.busy_s = 0.0
        self.batch_energy_j: float | None = 0.0 if profile.energy_j is not None else None
        self._last_end = -float("inf")

    def now(self) -> float:
        return self.clock

    def wait_until(self, t: float) -> float:
        self.clock = max(self.clock, t)
        return self.clock

    def process(self, first: int, size: int) -> BatchRecord:
        start = self.clock
        idle = start - self._last_end
        service = self.profile.service_time(size, idle_s=idle)
        self.clock += service
        self._last_end = self.clock
        self.busy_s += service
        energy = self.profile.batch_energy(size, idle_s=idle)
        if self.batch_energy_j is not None and energy is not None:
            self.batch_energy_j += energy
        return BatchRecord(
            first=first,
            size=size,
            start_s=start,
            end_s=self.clock,
            energy_j=energy,
            power_peak_w=self.profile.batch_peak_power(size),
        )


def simulate(
    profile: Profile, arrivals: np.ndarray, policy: BatchingPolicy
) -> tuple[RunMetrics, Trace]:
    """Predicted metrics (and the virtual trace) of serving `arrivals` with `policy`."""
    executor = VirtualExecutor(profile)
    trace = serve(arrivals, policy, executor)
    energy: float | None = None
    if executor.batch_energy_j is not None and profile.idle_power_w is not None:
        duration = float(trace.completions.max() - arrivals[0])
        idle_s = max(0.0, duration - executor.busy_s)
        energy = executor.batch_energy_j + profile.idle_power_w * idle_s
    return run_metrics(trace, energy_j=energy), trace


@dataclass(frozen=True)
class Candidate:
    policy: BatchingPolicy
    metrics: RunMetrics

    @property
    def label(self) -> str:
        return self.policy.describe()


def candidates(
    batch_sizes: Sequence[int], *, max_batch: int, max_delays_s: Sequence[float]
) -> list[BatchingPolicy]:
    """Fixed batches of every size, greedy up to `max_batch`, timeout for every size × delay."""
    out: list[BatchingPolicy] = [FixedBatching(int(b)) for b in batch_sizes]
    out.append(GreedyBatching(int(max_batch)))
    out += [TimeoutBatching(int(b), float(d)) for d in max_delays_s for b in batch_sizes]
    return out


def recommend(
    profile: Profile,
    arrivals: np.ndarray,
    policies: Sequence[BatchingPolicy],
    *,
    limit_s: float,
    statistic: str = "p99",
) -> tuple[Candidate | None, list[Candidate]]:
    """The least energy per image among `policies` whose predicted response time stays within
    `limit_s`, and every candidate's prediction (least energy first).

    `statistic` is `p99` or `max`. Ties in energy go to the faster candidate. `None` when no
    candidate meets the limit. Without energy in the profile there is nothing to rank by:
    `UserError`.
    """
    if profile.energy_j is None or profile.idle_power_w is None:
        raise UserError(
            "recommend ranks by energy, but the profile has none (measured with energy=none?); "
            "profile again with energy=auto or energy=estimate"
        )
    key = {"p99": "response_p99_s", "max": "response_max_s"}.get(statistic)
    if key is None:
        raise UserError(f"recommend.statistic={statistic!r} must be p99 or max")
    results = [Candidate(p, simulate(profile, arrivals, p)[0]) for p in policies]

    def order(c: Candidate) -> tuple[float, float]:
        assert c.metrics.energy_per_image_j is not None
        return (c.metrics.energy_per_image_j, getattr(c.metrics, key))

    results.sort(key=order)
    within = [c for c in results if getattr(c.metrics, key) <= limit_s]
    return (within[0] if within else None), results
