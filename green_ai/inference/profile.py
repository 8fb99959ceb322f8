"""What one model costs on one device: the input of the what-if simulator.

A `Profile` holds, per profiled batch size, the service time and the gross energy of a batch
served back to back and, optionally, after each pause of `pauses_s` (caches, clocks and the
scheduler go cold while the model waits; a slow stream serves only such batches), plus the idle
power. A batch is priced by the time the server idled before it, interpolated between those
pauses on a log scale; beyond the longest pause the cost stays at that pause's (the profiler
makes its longest pause long enough for the cost to have settled).

What the real server loop adds is profiled too, so the simulator can replay it (issue 12):

- `service_samples_s`, `service_cold_samples_s`: every timed batch, not only the median. A
  prediction draws each batch's service time (seeded): below the median of its size and pause
  as that median times a ratio, above it as the median plus an excess, both drawn from all the
  timed batches pooled (each taken against its own size's and pause's median). A run's p99 and
  maximum come from its slowest 1% of batches, which a handful of batches per size and pause
  cannot show. On the shared development CPU a batch that runs slow has lost time to other
  processes: its excess is absolute (10-60 ms for batches of 1 to 32 alike in the real runs of
  docs/bench-inference.md), where a fast one is fast in proportion. Far-out excesses (beyond
  the upper quartile plus three interquartile ranges, Tukey's fence) are left out: a burst of
  other work during profiling made 0.5-1 s stalls, which repeated at that rate through a run
  predicted p99s of a second where the runs took 0.1 s.
- `wake_lag_s`: how late the loop woke from its sleeps. Every response of greedy batching at a
  low rate carries one wake-up, so the lag shows in full in its latency.
- `wake_energy_j`: the energy of one wake-up of the loop (counting arrivals, asking the
  policy, going back to sleep) beyond idle power; a slow stream wakes the loop at every arrival.
- `pause_power_w`: the mean power over each profiled pause, so the idle gaps of a run cost what
  idling that long after a batch costs (a GPU stays at high clocks for a while after work).

Medians and energies are made non-decreasing in the batch size (isotonic regression) before
they are interpolated: measurement noise that made a batch of 2 look faster than a batch of 1
made greedy batching flip between regimes near saturation. After a pause, a size costs its
back-to-back cost times the ratio cold / back to back measured at that size and its two
neighbours (their median): a few batches per size and pause made those cells noisy (±20%),
and the penalty of a pause changes slowly with the size. Every optional field can be absent;
then that effect is left out and the prediction is deterministic, as with hand-made profiles.
"""

from __future__ import annotations

import bisect
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from green_ai.errors import UserError

__all__ = ["Profile"]


@dataclass(frozen=True)
class Profile:
    """Cost of one model on one device, per batch size (sorted, distinct).

    `service_s` and `service_cold_s` are medians, `energy_j` and `energy_cold_j` means per
    batch (a run's energy is a sum, so the mean is the statistic that adds up).
    """

    batch_sizes: list[int]
    service_s: list[float]
    energy_j: list[float] | None = None
    power_peak_w: list[float] | None = None
    idle_power_w: float | None = None
    pauses_s: list[float] | None = None
    service_cold_s: list[list[float]] | None = None
    energy_cold_j: list[list[float]] | None = None
    service_samples_s: list[list[float]] | None = None
    service_cold_samples_s: list[list[list[float]]] | None = None
    pause_power_w: list[float] | None = None
    idle_s: float | None = None
    wake_lag_s: list[float] | None = None
    wake_energy_j: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = self.batch_sizes
        if not sizes or sorted(set(sizes)) != list(sizes) or sizes[0] < 1:
            raise ValueError(f"profile batch sizes must be distinct, sorted and >= 1: {sizes}")
        rows = [
            (n, [getattr(self, n)])
            for n in ("service_s", "energy_j", "power_peak_w", "service_samples_s")
        ]
        rows += [
            (n, getattr(self, n) or [])
            for n in ("service_cold_s", "energy_cold_j", "service_cold_samples_s")
        ]
        for name, lists in rows:
            for values in lists:
                if values is not None and len(values) != len(sizes):
                    raise ValueError(f"profile {name} has {len(values)} values for {sizes}")
        pauses = self.pauses_s or []
        if sorted(set(pauses)) != list(pauses) or any(p <= 0 for p in pauses):
            raise ValueError(f"profile pauses must be distinct, sorted and > 0: {pauses}")
        for name in ("service_cold_s", "energy_cold_j", "service_cold_samples_s", "pause_power_w"):
            lists = getattr(self, name)
            if lists is not None and len(lists) != len(pauses):
                raise ValueError(f"profile {name} needs one row per pause in {pauses}")
        for samples in [*(self.service_samples_s or []), [*(self.wake_lag_s or [])]]:
            if any(not math.isfinite(v) or v < 0 for v in samples):
                raise ValueError("profile samples must be finite seconds >= 0")

    # -- costs -----------------------------------------------------------------------------

    def service_time(
        self, size: int, *, idle_s: float = 0.0, quantile: float | None = None
    ) -> float:
        """Seconds to serve `size` requests after the model idled `idle_s` seconds.

        `quantile` None: the median. A number in [0, 1]: that quantile of the profiled
        spread around it, so a uniform draw of it is a draw of the service time.
        """
        hot, cold, _, _ = self._at(size)
        median = self._after_pause(idle_s, hot, cold)
        if quantile is None or self._spread is None:
            return median
        below, above = self._spread
        share = len(below) / (len(below) + len(above))
        if quantile < share:
            return median * _quantile(below, quantile / share)
        return median + _quantile(above, (quantile - share) / (1 - share))

    def batch_energy(self, size: int, *, idle_s: float = 0.0) -> float | None:
        """Mean gross joules of a batch of `size` after the model idled `idle_s` seconds."""
        if self.energy_j is None:
            return None
        _, _, hot, cold = self._at(size)
        return self._after_pause(idle_s, hot, cold)

    def batch_peak_power(self, size: int) -> float | None:
        if self.power_peak_w is None:
            return None
        return _interp(size, self.batch_sizes, self.power_peak_w)

    def idle_energy(self, gap_s: float) -> float | None:
        """Gross joules of idling `gap_s` seconds between batches: the mean power over a pause
        that long (log-interpolated between the profiled pauses and the idle measurement), or
        the idle power throughout where no pause power was profiled."""
        if self.idle_power_w is None:
            return None
        if gap_s <= 0:
            return 0.0
        xs, watts = self._gap_power
        if len(xs) == 1:
            return watts[0] * gap_s
        return _interp_clamped(math.log(gap_s), xs, watts) * gap_s

    def wake_lag(self, quantile: float) -> float:
        """How late the loop woke from a sleep, at `quantile` of the profiled lags (0 when
        none were profiled)."""
        lags = self._lags
        return _quantile(lags, quantile) if lags else 0.0

    # -- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"cannot read the inference profile {path}: {exc}") from exc

    # -- internals -------------------------------------------------------------------------

    def _after_pause(self, idle_s: float, hot: float, cold: list[float]) -> float:
        pauses = self.pauses_s
        if idle_s <= 0 or not pauses or not cold:  # back to back, or nothing profiled after
            return hot
        if idle_s >= pauses[-1]:
            return cold[-1]
        if idle_s <= pauses[0]:  # from back to back (no pause) to the shortest pause
            return hot + (cold[0] - hot) * idle_s / pauses[0]
        return _interp_clamped(math.log(idle_s), self._log_pauses, cold)

    # Derived once per profile (cached_property writes past the frozen dataclass's guard).

    @cached_property
    def _hot(self) -> list[float]:
        return _monotone(self.service_s)

    @cached_property
    def _cold(self) -> list[list[float]] | None:
        if self.service_cold_s is None or not self.pauses_s:
            return None
        return [_after_pause_row(self.service_s, row) for row in self.service_cold_s]

    @cached_property
    def _spread(self) -> tuple[list[float], list[float]] | None:
        """Every timed batch against the median of its size and pause: below it as ratios,
        above it as excess seconds (far-out ones left out), each sorted."""
        cells = [*(self.service_samples_s or [])]
        for row in self.service_cold_samples_s or []:
            cells += row
        below: list[float] = []
        above: list[float] = []
        for values in cells:
            mid = statistics.median(values) if values else 0.0
            for v in values:
                if v < mid:
                    below.append(v / mid)
                else:
                    above.append(v - mid)
        if not above:
            return None
        q1, _, q3 = statistics.quantiles(above, n=4) if len(above) > 1 else (0.0, 0.0, 0.0)
        if q3 > q1:  # a fence needs a spread to measure from
            above = [v for v in above if v <= q3 + 3 * (q3 - q1)]
        return sorted(below), sorted(above)

    @cached_property
    def _energy_hot(self) -> list[float]:
        return _monotone(self.energy_j or [])

    @cached_property
    def _energy_cold(self) -> list[list[float]] | None:
        if self.energy_j is None or self.energy_cold_j is None:
            return None
        return [_after_pause_row(self.energy_j, row) for row in self.energy_cold_j]

    @cached_property
    def _log_pauses(self) -> list[float]:
        return [math.log(p) for p in self.pauses_s or []]

    @cached_property
    def _gap_power(self) -> tuple[list[float], list[float]]:
        """log(pause) and the mean power over a pause that long, sorted by pause."""
        assert self.idle_power_w is not None
        points = list(zip(self.pauses_s or [], self.pause_power_w or [], strict=False))
        if self.idle_s is not None and self.idle_s > 0:
            points.append((self.idle_s, self.idle_power_w))
        if not points:
            points = [(1.0, self.idle_power_w)]
        points.sort()
        return [math.log(p) for p, _ in points], [w for _, w in points]

    def _at(self, size: int) -> tuple[float, list[float], float, list[float]]:
        """Median service time and mean energy of `size`, back to back and after each pause
        (memoised: a simulated run prices thousands of batches of a few sizes)."""
        memo = self._memo
        if size not in memo:
            xs = self.batch_sizes
            cold = [_interp(size, xs, row) for row in self._cold or []]
            energy = _interp(size, xs, self._energy_hot) if self.energy_j is not None else 0.0
            energy_cold = [_interp(size, xs, row) for row in self._energy_cold or []]
            memo[size] = (_interp(size, xs, self._hot), cold, energy, energy_cold)
        return memo[size]

    @cached_property
    def _memo(self) -> dict[int, tuple[float, list[float], float, list[float]]]:
        return {}

    @cached_property
    def _lags(self) -> list[float]:
        return sorted(self.wake_lag_s or [])


def _after_pause_row(hot: Sequence[float], cold: Sequence[float]) -> list[float]:
    """One pause's costs per size: back to back (made monotone) times the median ratio cold /
    back to back of the size and its neighbours, made monotone again."""
    ratios = [c / h if h > 0 else 1.0 for h, c in zip(hot, cold, strict=True)]
    local = [statistics.median(ratios[max(0, i - 1) : i + 2]) for i in range(len(ratios))]
    return _monotone([h * r for h, r in zip(_monotone(hot), local, strict=True)])


def _monotone(values: Sequence[float]) -> list[float]:
    """The isotonic (least-squares non-decreasing) fit of per-size values."""
    if len(values) < 2:
        return [float(v) for v in values]
    from scipy.optimize import isotonic_regression

    return [float(v) for v in isotonic_regression(values).x]


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile `q` in [0, 1] of already sorted values."""
    pos = min(max(q, 0.0), 1.0) * (len(sorted_values) - 1)
    i = int(pos)
    if i + 1 >= len(sorted_values):
        return float(sorted_values[-1])
    return float(sorted_values[i] + (pos - i) * (sorted_values[i + 1] - sorted_values[i]))


def _interp(size: int, xs: Sequence[int], ys: Sequence[float]) -> float:
    """Piecewise linear in the batch size; beyond the ends, the nearest segment extended (never
    below zero). Plain Python: a run simulates thousands of batches, each priced here."""
    if len(xs) == 1:
        return float(ys[0]) * size / xs[0]
    if size <= xs[0]:
        i = 0
    elif size >= xs[-1]:
        i = len(xs) - 2
    else:
        i = bisect.bisect_right(xs, size) - 1
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return max(0.0, float(ys[i] + slope * (size - xs[i])))


def _interp_clamped(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise linear through (xs, ys), constant beyond the ends (as `numpy.interp`)."""
    if x <= xs[0]:
        return float(ys[0])
    if x >= xs[-1]:
        return float(ys[-1])
    i = bisect.bisect_right(xs, x) - 1
    return float(ys[i] + (x - xs[i]) * (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]))
