"""Measure a `Profile` of a model on its device (`python -m green_ai.infer mode=profile`).

Batches go through the same `ModelExecutor.process` as a real run, meter windows included, so
the profile prices what serving costs, not a bare forward pass. For each batch size: blocks of
batches back to back (`min_time_s` in all, each block inside one energy window spanning many
power samples, after one untimed batch that makes it back to back), and batches after each
pause of `pauses_s`, each pause inside its own window (the power of idling after a batch);
then chunks of the real server loop with the model left out, for `wakeups` wake-ups in all:
how late it wakes from its sleeps and what one wake-up costs (issue 12: both were missing from
predictions). Last, `idle_s` seconds of rest.

These trials run in a seeded random order, not size after size: on a shared machine the speed
drifts by tens of percent within a minute, and measuring each size (or the loop) in its own
few seconds made whole rows of the profile fast or slow together. Interleaved, every cell is
sampled across the whole profile.
"""

from __future__ import annotations

import logging
import math
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

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
    seed: int = 0,
) -> Profile:
    """Profile the model behind `executor` at `settings.batch_sizes`; energy from `meter`."""
    sizes = sorted(set(settings.batch_sizes))
    pauses = sorted(set(settings.pauses_s))
    once = {}
    for size in sizes:  # warm each shape once, and learn roughly how long it takes
        first = executor.process(0, size)
        once[size] = max(first.end_s - first.start_s, 1e-6)
    cells = {size: _Cell(size, len(pauses)) for size in sizes}
    wakes = _Wakeups()
    trials = _plan(sizes, pauses, once, settings)
    random.Random(seed).shuffle(trials)
    with tqdm(trials, desc="profile", unit="trial", disable=None, leave=False) as bar:
        for kind, size, k, n in bar:
            if kind == "hot":
                cells[size].add_hot(executor, meter, n)
            elif kind == "cold":
                cells[size].add_cold(executor, meter, k, pauses[k], sleep)
            else:
                wakes.add(executor, meter, n, seed=len(wakes.windows))
    idle_power, idle_s = _measure_idle(meter, settings.idle_s, sleep)
    for size in sizes:
        log.info("profile: batch %d: %.2f ms back to back", size, cells[size].median_s() * 1e3)
    rows = range(len(pauses))
    by_size = [cells[size] for size in sizes]
    return Profile(
        batch_sizes=sizes,
        service_s=[c.median_s() for c in by_size],
        energy_j=_all_or_none([c.energy_j() for c in by_size]),
        power_peak_w=_all_or_none([_mean_or_none(c.peaks) for c in by_size]),
        idle_power_w=idle_power,
        pauses_s=pauses or None,
        service_cold_s=[[statistics.median(c.cold[k]) for c in by_size] for k in rows] or None,
        energy_cold_j=_rows_or_none([[c.cold_energy_j(k) for c in by_size] for k in rows])
        if pauses
        else None,
        service_samples_s=[c.hot for c in by_size],
        service_cold_samples_s=[[c.cold[k] for c in by_size] for k in rows] or None,
        pause_power_w=_all_or_none([_power(by_size, k) for k in rows]) if pauses else None,
        idle_s=idle_s,
        wake_lag_s=wakes.lags or None,
        wake_energy_j=wakes.energy_j(idle_power),
        meta={**meta, "energy.backend": meter.backend, "energy.kind": meter.kind},
    )


# Back-to-back batches of a size are timed in this many blocks spread over the profile, and the
# wake-ups of the loop in this many chunks.
_HOT_BLOCKS = 4
_WAKE_CHUNKS = 8


def _plan(
    sizes: list[int], pauses: list[float], once: dict[int, float], settings: ProfileSettings
) -> list[tuple[str, int, int, int]]:
    """Every trial as (kind, batch size, pause index, batches or wake-ups)."""
    trials = []
    for size in sizes:
        repeats = max(settings.min_repeats, math.ceil(settings.min_time_s / once[size]))
        blocks = min(_HOT_BLOCKS, repeats)
        trials += [("hot", size, -1, math.ceil(repeats / blocks))] * blocks
        for k, pause in enumerate(pauses):
            n = max(settings.min_repeats, math.ceil(settings.min_time_s / (pause + once[size])))
            trials += [("cold", size, k, 1)] * n
    if settings.wakeups > 0:
        chunks = min(_WAKE_CHUNKS, settings.wakeups)
        per, extra = divmod(settings.wakeups, chunks)
        trials += [("wake", 0, -1, per + (i < extra)) for i in range(chunks)]
    return trials


class _Cell:
    """Everything measured at one batch size."""

    def __init__(self, size: int, pauses: int) -> None:
        self.size = size
        self.hot: list[float] = []
        self.hot_j: float | None = 0.0
        self.peaks: list[float | None] = []
        self.cold: list[list[float]] = [[] for _ in range(pauses)]
        self.cold_j: list[list[float | None]] = [[] for _ in range(pauses)]
        self.pause_j: list[float | None] = [0.0] * pauses
        self.pause_s: list[float] = [0.0] * pauses

    def add_hot(self, executor: ModelExecutor, meter: EnergyMeter, repeats: int) -> None:
        size = self.size
        executor.process(0, size)  # after a pause or another size: makes the next back to back
        meter.begin("profile")
        batches = [executor.process(0, size) for _ in range(repeats)]
        m = meter.end("profile")
        self.hot += [b.end_s - b.start_s for b in batches]
        self.hot_j = _add(self.hot_j, m.energy_j)
        self.peaks += [b.power_peak_w for b in batches]

    def add_cold(
        self,
        executor: ModelExecutor,
        meter: EnergyMeter,
        k: int,
        pause: float,
        sleep: Callable[[float], None],
    ) -> None:
        meter.begin("pause")
        sleep(pause)
        m = meter.end("pause")
        self.pause_j[k] = _add(self.pause_j[k], m.energy_j)
        self.pause_s[k] += m.duration_s
        b = executor.process(0, self.size)
        self.cold[k].append(b.end_s - b.start_s)
        self.cold_j[k].append(b.energy_j)

    def median_s(self) -> float:
        return statistics.median(self.hot)

    def energy_j(self) -> float | None:
        return None if self.hot_j is None else self.hot_j / len(self.hot)

    def cold_energy_j(self, k: int) -> float | None:
        return _mean_or_none(self.cold_j[k])


def _power(cells: list[_Cell], k: int) -> float | None:
    """Mean power over every pause of index `k`, at any size."""
    energies = [c.pause_j[k] for c in cells]
    seconds = sum(c.pause_s[k] for c in cells)
    if any(e is None for e in energies) or seconds <= 0:
        return None
    return sum(e or 0.0 for e in energies) / seconds


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


class _Wakeups:
    """Chunks of the server loop alone, over a Poisson stream: it waits for a batch as large
    as the stream, so it sleeps until each arrival (not past ones: a sleep's lag may pass the
    next arrival)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.windows: list[tuple[float | None, float]] = []  # (energy, seconds) per chunk

    def add(self, executor: ModelExecutor, meter: EnergyMeter, wakeups: int, *, seed: int) -> None:
        arrivals = arrival_offsets(
            frequency=_PROBE_FREQUENCY, requests=wakeups + 1, arrivals="poisson", seed=seed
        )
        probe = _WakeupProbe(executor)
        executor.start()
        meter.begin("wakeups")
        serve(arrivals, FixedBatching(len(arrivals)), probe)
        m = meter.end("wakeups")
        self.lags += probe.lags
        self.windows.append((m.energy_j, m.duration_s))

    def energy_j(self, idle_power: float | None) -> float | None:
        """Energy of one wake-up beyond idle power (never below 0)."""
        energies = [e for e, _ in self.windows]
        if idle_power is None or not self.lags or any(e is None for e in energies):
            return None
        beyond = sum(e or 0.0 for e in energies) - idle_power * sum(t for _, t in self.windows)
        return max(0.0, beyond / len(self.lags))


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
