"""Measure a `Profile` of a model on its device (`python -m green_ai.infer mode=profile`).

Batches go through the same `ModelExecutor.process` as a real run, meter windows included, so
the profile prices what serving costs, not a bare forward pass. For each batch size: a batch to
warm the shape, then batches back to back for `min_time_s` (inside one energy window spanning
many power samples), then batches after each pause of `pauses_s`, each pause inside its own
window (the power of idling after a batch). Then `idle_s` seconds of rest, and `wakeups`
wake-ups of the real server loop with the model left out: how late it wakes from its sleeps
and what one wake-up costs (issue 12: both were missing from predictions).
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from green_ai.devices import device_name
from green_ai.energy import EnergyMeter
from green_ai.inference.batching import FixedBatching
from green_ai.inference.profile import Profile
from green_ai.inference.server import BatchRecord, ModelExecutor, serve
from green_ai.inference.settings import ProfileSettings
from green_ai.inference.stream import arrival_offsets
from green_ai.paths import launch_dir

__all__ = ["default_profile_path", "device_slug", "measure_profile"]

log = logging.getLogger(__name__)

# The wake-up probe's stream: Poisson gaps of 20 ms on average spread its sleeps from well
# under a millisecond to about 100 ms, the range of a run's sleeps at 10-100 requests/s.
_PROBE_FREQUENCY = 50.0


def device_slug(device: Any) -> str:
    """The device as a file-name part: `cpu`, `cuda0-nvidia-h200`."""
    name = device_name(device).lower().replace(":", "")
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def default_profile_path(model: str, image_size: int, device: Any) -> Path:
    """`outputs/profiles/<model>-<image_size>-<device>.json` under the launch directory: the
    real device (not `auto`), so profiles of two machines never overwrite each other."""
    name = f"{model}-{image_size}-{device_slug(device)}.json"
    return Path(launch_dir(), "outputs", "profiles", name)


def measure_profile(
    executor: ModelExecutor,
    meter: EnergyMeter,
    settings: ProfileSettings,
    *,
    meta: dict[str, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> Profile:
    """Profile the model behind `executor` at `settings.batch_sizes`; energy from `meter`."""
    sizes = sorted(set(settings.batch_sizes))
    pauses = sorted(set(settings.pauses_s))
    costs = [_measure_size(executor, meter, size, pauses, settings, sleep) for size in sizes]
    idle_power, idle_s = _measure_idle(meter, settings.idle_s, sleep)
    lags, wake_energy = _measure_wakeups(executor, meter, settings.wakeups, idle_power)
    pause_power = [
        _power([c.pause_j[k] for c in costs], [c.pause_s[k] for c in costs])
        for k in range(len(pauses))
    ]
    energies = [c.energy_j for c in costs]
    cold_energies = [[c.cold_j[k] for c in costs] for k in range(len(pauses))]
    return Profile(
        batch_sizes=sizes,
        service_s=[statistics.median(c.service) for c in costs],
        energy_j=_all_or_none(energies),
        power_peak_w=_all_or_none([c.peak_w for c in costs]),
        idle_power_w=idle_power,
        pauses_s=pauses or None,
        service_cold_s=[[statistics.median(c.cold[k]) for c in costs] for k in range(len(pauses))]
        or None,
        energy_cold_j=_rows_or_none(cold_energies) if pauses else None,
        service_samples_s=[c.service for c in costs],
        service_cold_samples_s=[[c.cold[k] for c in costs] for k in range(len(pauses))] or None,
        pause_power_w=_all_or_none(pause_power) if pauses else None,
        idle_s=idle_s,
        wake_lag_s=lags or None,
        wake_energy_j=wake_energy,
        meta={**meta, "energy.backend": meter.backend, "energy.kind": meter.kind},
    )


class _SizeCost:
    """Everything measured at one batch size."""

    def __init__(self, pauses: int) -> None:
        self.service: list[float] = []
        self.energy_j: float | None = None
        self.peak_w: float | None = None
        self.cold: list[list[float]] = [[] for _ in range(pauses)]
        self.cold_j: list[float | None] = [None] * pauses
        self.pause_j: list[float | None] = [0.0] * pauses
        self.pause_s: list[float] = [0.0] * pauses


def _measure_size(
    executor: ModelExecutor,
    meter: EnergyMeter,
    size: int,
    pauses: list[float],
    settings: ProfileSettings,
    sleep: Callable[[float], None],
) -> _SizeCost:
    cost = _SizeCost(len(pauses))
    first = executor.process(0, size)  # also warms up this shape
    once = max(first.end_s - first.start_s, 1e-6)
    repeats = max(settings.min_repeats, math.ceil(settings.min_time_s / once))
    meter.begin("profile")
    hot = [executor.process(0, size) for _ in range(repeats)]
    m = meter.end("profile")
    cost.service = [b.end_s - b.start_s for b in hot]
    cost.energy_j = None if m.energy_j is None else m.energy_j / repeats
    cost.peak_w = _mean_or_none([b.power_peak_w for b in hot])
    for k, pause in enumerate(pauses):
        cold: list[BatchRecord] = []
        for _ in range(max(settings.min_repeats, math.ceil(settings.min_time_s / (pause + once)))):
            meter.begin("pause")
            sleep(pause)
            p = meter.end("pause")
            cost.pause_j[k] = _add(cost.pause_j[k], p.energy_j)
            cost.pause_s[k] += p.duration_s
            cold.append(executor.process(0, size))
        cost.cold[k] = [b.end_s - b.start_s for b in cold]
        cost.cold_j[k] = _mean_or_none([b.energy_j for b in cold])
    log.info(
        "profile: batch %d: %.2f ms back to back", size, statistics.median(cost.service) * 1e3
    )
    return cost


def _measure_idle(
    meter: EnergyMeter, idle_s: float, sleep: Callable[[float], None]
) -> tuple[float | None, float | None]:
    """Mean power over `idle_s` seconds of rest right after the last batch, and the window's
    length."""
    if idle_s <= 0:
        return None, None
    meter.begin("idle")
    sleep(idle_s)
    m = meter.end("idle")
    if m.energy_j is None or m.duration_s <= 0:
        return None, m.duration_s
    return m.energy_j / m.duration_s, m.duration_s


class _WakeupProbe:
    """The real executor's clock and sleep, with batches that take no time: the server loop
    alone. Keeps the lag of every sleep (a target already past wakes nothing)."""

    def __init__(self, inner: ModelExecutor) -> None:
        self.inner = inner
        self.lags: list[float] = []

    def now(self) -> float:
        return self.inner.now()

    def wait_until(self, t: float) -> float:
        slept = t > self.inner.now()
        woke = self.inner.wait_until(t)
        if slept:
            self.lags.append(max(0.0, woke - t))
        return woke

    def process(self, first: int, size: int) -> BatchRecord:
        t = self.inner.now()
        return BatchRecord(first=first, size=size, start_s=t, end_s=t)


def _measure_wakeups(
    executor: ModelExecutor, meter: EnergyMeter, wakeups: int, idle_power: float | None
) -> tuple[list[float], float | None]:
    """Lags of the server loop's sleeps over a stream of `wakeups` + 1 requests, and the energy
    of one wake-up beyond idle power. The loop waits for a batch as large as the stream, so it
    sleeps until each arrival (not past ones: the lag of one sleep may pass the next)."""
    if wakeups <= 0:
        return [], None
    arrivals = arrival_offsets(
        frequency=_PROBE_FREQUENCY, requests=wakeups + 1, arrivals="poisson", seed=0
    )
    probe = _WakeupProbe(executor)
    executor.start()
    meter.begin("wakeups")
    serve(arrivals, FixedBatching(len(arrivals)), probe)
    m = meter.end("wakeups")
    lags = probe.lags
    if m.energy_j is None or idle_power is None or not lags:
        return lags, None
    return lags, max(0.0, (m.energy_j - idle_power * m.duration_s) / len(lags))


def _power(energies: list[float | None], seconds: list[float]) -> float | None:
    if any(e is None for e in energies) or sum(seconds) <= 0:
        return None
    return sum(e or 0.0 for e in energies) / sum(seconds)


def _add(total: float | None, value: float | None) -> float | None:
    return None if total is None or value is None else total + value


def _all_or_none(values: list[float | None]) -> list[float] | None:
    """The list when every value was measured; a partial list would mislead the simulator."""
    return None if any(v is None for v in values) else [float(v or 0.0) for v in values]


def _rows_or_none(rows: list[list[float | None]]) -> list[list[float]] | None:
    checked = [_all_or_none(row) for row in rows]
    return None if any(row is None for row in checked) else [row or [] for row in checked]


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known and len(known) == len(values) else None
