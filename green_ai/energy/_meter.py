"""Named measurement windows over one or more backends, and the idle baseline.

Every backend (NVML for GPUs, RAPL for CPU packages and DRAM, the estimate) reads at both edges
of each window, and the polling ones also every `interval_s` in between from one background
sampler, so all parts are measured over the same windows. Per backend, a window's energy is the
difference of its counter between the two edges where it has one (NVML's hardware counter,
RAPL, the CPU-time estimate); otherwise the trapezoid integral of timestamped power samples
(thesis §3.3.3 polled every 100 ms without timestamps; we keep them). Peak power comes from the
samples: sampled power, or counter differences between consecutive polls.

A failed reading costs what it must and no more. With a counter that read at both edges the
window keeps its joules; failed power samples between good ones are interpolated and the window
is `partial`; a failure at an edge leaves that backend's energy missing and the window
`unavailable` (its other parts are kept). Each backend's first failure is logged once.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from green_ai.energy._backend import Backend, Reading, SensorError
from green_ai.energy._measurement import (
    ESTIMATED,
    LACKING,
    MEASURED,
    NONE,
    PARTIAL,
    UNAVAILABLE,
    Measurement,
)

log = logging.getLogger(__name__)

IDLE_WINDOW = "_idle"
# Windows shorter than this are not compared counter against polled power (MLPerf Power asks
# for at least a second per sample and many samples; NVML's power is a one-second average).
DISAGREEMENT_MIN_S = 5.0
# design.settle_max_s: power counts as settled once it stayed within 5 % of its mean (or of
# idle power) for a second, NVML's averaging period.
SETTLE_HOLD_S = 1.0
SETTLE_TOLERANCE = 0.05


@dataclass
class _Part:
    """One backend's share of a closed window."""

    per_device_j: dict[str, float] | None
    kind: str
    reason: str | None = None
    # Polled power integrated over the same window, where a counter gave the joules.
    polled_j: float | None = None


class _Track:
    """One backend's readings inside one open window."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.first: Reading | None = None  # the reading at the opening edge, if it worked
        self.last: Reading | None = None  # the latest good reading
        self.last_t = 0.0
        self.end_ok = False
        self.trapezoid_j: dict[str, float] = {}
        self.failed = False  # a reading failed since the last good one
        self.gap_s = 0.0  # time between good power samples that spans failed ones
        self.errors: list[str] = []

    def add(self, t: float, reading: Reading | str) -> float | None:
        """Take one reading at time `t`; return this backend's power then, when known."""
        if isinstance(reading, str):
            if reading not in self.errors:
                self.errors.append(reading)
            self.failed = True
            return None
        prev, dt = self.last, t - self.last_t
        power: float | None = None
        if reading.power_w is not None:
            if prev is not None and prev.power_w is not None:
                for dev, p in reading.power_w.items():
                    p0 = prev.power_w.get(dev, p)
                    self.trapezoid_j[dev] = self.trapezoid_j.get(dev, 0.0) + dt * (p + p0) / 2
                if self.failed:
                    self.gap_s += dt
            power = sum(reading.power_w.values())
        elif (
            self.backend.polls
            and reading.energy_j is not None
            and prev is not None
            and prev.energy_j is not None
            and dt > 0
        ):
            # A counter polled often enough gives power as its rise over the last interval.
            power = sum(e - prev.energy_j.get(dev, e) for dev, e in reading.energy_j.items()) / dt
        self.last, self.last_t, self.failed = reading, t, False
        return power

    def result(self, duration_s: float) -> _Part:
        backend = self.backend
        if backend.kind == NONE:
            return _Part(None, NONE)
        errors = "; ".join(self.errors)
        if self.first is None or not self.end_ok:
            edge = "start" if self.first is None else "end"
            return _Part(None, UNAVAILABLE, f"{backend.name}: no reading at the {edge} ({errors})")
        first, last = self.first, self.last
        assert last is not None
        if first.energy_j is not None and last.energy_j is not None:
            # The counter read at both edges: failed polls in between cost nothing.
            per_device = {dev: last.energy_j[dev] - e0 for dev, e0 in first.energy_j.items()}
            polled = sum(self.trapezoid_j.values()) if self.trapezoid_j else None
            return _Part(per_device, backend.kind, polled_j=polled)
        if last.power_w is not None:
            per_device = dict(self.trapezoid_j) or dict.fromkeys(last.power_w, 0.0)
            if self.gap_s > 0:
                return _Part(
                    per_device,
                    PARTIAL,
                    f"{backend.name}: power readings failed ({errors}); "
                    f"{self.gap_s:.3g} s of {duration_s:.3g} s interpolated",
                )
            return _Part(per_device, backend.kind)
        return _Part(None, UNAVAILABLE, f"{backend.name}: no energy reading")


class _Open:
    """Running state of one open window: a track per backend, peak power, utilisation."""

    def __init__(self, name: str, t0: float, backends: Sequence[Backend]) -> None:
        self.name = name
        self.t0 = t0
        self.tracks = [_Track(b) for b in backends]
        self.polling = any(b.polls for b in backends)
        self.peak_w: float | None = None
        self.util_sum = 0.0
        self.util_n = 0
        self.temp_first: float | None = None
        self.temp_last: float | None = None
        self.clock_sum = 0.0
        self.clock_n = 0

    def add(self, t: float, readings: Sequence[Reading | str | None]) -> None:
        """Readings at one instant, one per backend (`None`: that backend was not read)."""
        total: float | None = 0.0
        for track, reading in zip(self.tracks, readings, strict=True):
            if reading is None:
                continue
            power = track.add(t, reading)
            if isinstance(reading, Reading) and reading.instant_w is not None:
                power = sum(reading.instant_w.values())
            if track.backend.polls:
                # The peak is a sum over every polling backend at one instant, or nothing.
                total = None if power is None or total is None else total + power
            if isinstance(reading, Reading):
                self._thermal(reading)
        if total is not None and self.polling:
            self.peak_w = total if self.peak_w is None else max(self.peak_w, total)

    def _thermal(self, reading: Reading) -> None:
        if reading.util_pct is not None:
            self.util_sum += reading.util_pct
            self.util_n += 1
        if reading.temp_c is not None:
            if self.temp_first is None:
                self.temp_first = reading.temp_c
            self.temp_last = reading.temp_c
        if reading.sm_clock_mhz is not None:
            self.clock_sum += reading.sm_clock_mhz
            self.clock_n += 1


class Window:
    """Handle of `EnergyMeter.window`; `measurement` is set when the block ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.measurement: Measurement | None = None


class EnergyMeter:
    """Named, nestable measurement windows over one or more backends.

    Use `build_meter` to get one. A duplicate name (a window of that name already open) or an
    unknown one at `end` is a `ValueError`. On a CUDA device both edges synchronise the GPU, so
    queued kernels are counted in the window that launched them (`device=None` measures the
    machine and synchronises nothing). A sensor failure never raises: the window says what is
    missing in its `kind` and `reason`.
    """

    def __init__(
        self,
        backends: Sequence[Backend],
        device: torch.device | None,
        *,
        interval_s: float = 0.1,
        idle_s: float = 2.0,
        settle_s: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        threaded: bool = True,
        idle_windows: int = 5,
        disagreement_pct: float = 5.0,
    ) -> None:
        if not backends:
            raise ValueError("an energy meter needs at least one backend")
        self._backends = list(backends)
        self.device = device
        self.interval_s = interval_s
        self.idle_s = idle_s
        self.settle_s = settle_s
        self.idle_windows = idle_windows
        self.disagreement_pct = disagreement_pct
        self._clock = clock
        self._sleep = sleep
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.idle_power_w: float | None = None
        self.idle_power_parts_w: dict[str, float] = {}
        # The baseline's spread: sample standard deviation of the idle windows' powers, and
        # how many windows gave it; the first baseline and when the latest was measured.
        self.idle_sd_w: float | None = None
        self.idle_n = 0
        self.idle_first_w: float | None = None
        self.idle_measured_at: float | None = None
        self.lacking_windows = 0
        self.lacking_reason: str | None = None
        self._closed = False
        self._name = "+".join(b.name for b in self._backends)
        kinds = {b.kind for b in self._backends}
        self._kind = NONE if kinds == {NONE} else ESTIMATED if ESTIMATED in kinds else MEASURED
        if threaded and any(b.polls for b in self._backends):
            self._thread = threading.Thread(target=self._run, name="energy-sampler", daemon=True)
            self._thread.start()

    @property
    def backend(self) -> str:
        """The backends' names joined by `+`: `nvml`, `nvml+rapl`, `estimate`, `none`..."""
        return self._name

    @property
    def kind(self) -> str:
        """`measured`, `estimated` (when any backend is a model) or `none`."""
        return self._kind

    @property
    def overall_kind(self) -> str:
        """`kind`, or `partial` once any window of this meter lacked energy (wholly or partly);
        `lacking_windows` counts them and `lacking_reason` is the first one's reason."""
        return PARTIAL if self.lacking_windows else self.kind

    @property
    def device_names(self) -> list[str]:
        """What is measured, e.g. `["cuda:0 NVIDIA H200", "package-0", "package-0/dram"]`."""
        return [name for b in self._backends for name in b.device_names]

    def describe(self) -> str:
        """Short: `nvml (counter) cuda:0 + rapl package,dram`."""
        return " + ".join(b.describe(self.interval_s) for b in self._backends)

    # -- windows ---------------------------------------------------------------------------

    def begin(self, name: str) -> None:
        """Open the window `name` (after synchronising the GPU)."""
        if name in self._open:
            raise ValueError(f"energy window {name!r} is already open")
        self._sync()
        with self._lock:
            t = self._clock()
            state = _Open(name, t, self._backends)
            readings = [self._read(b) for b in self._backends]
            state.add(t, readings)
            for track, reading in zip(state.tracks, readings, strict=True):
                if isinstance(reading, Reading):
                    track.first = reading
            self._open[name] = state

    def end(self, name: str) -> Measurement:
        """Close the window `name` and return what it measured."""
        if name not in self._open:
            raise ValueError(f"no open energy window named {name!r}")
        self._sync()
        with self._lock:
            t = self._clock()
            readings = [self._read(b) for b in self._backends]
            state = self._open.pop(name)
            state.add(t, readings)
            for track, reading in zip(state.tracks, readings, strict=True):
                track.end_ok = isinstance(reading, Reading)
            m = self._measurement(state, t)
            if m.kind in LACKING:
                self.lacking_windows += 1
                self.lacking_reason = self.lacking_reason or m.reason
        return m

    @contextmanager
    def window(self, name: str) -> Iterator[Window]:
        """`with meter.window("epoch") as w: ...`; `w.measurement` is set after the block,
        also when the block raises."""
        handle = Window(name)
        self.begin(name)
        try:
            yield handle
        finally:
            handle.measurement = self.end(name)

    def poll(self) -> None:
        """Take one sample of every polling backend into every open window; the background
        sampler calls this."""
        with self._lock:
            if not self._open:
                return
            t = self._clock()
            readings = [self._read(b) if b.polls else None for b in self._backends]
            for state in self._open.values():
                state.add(t, readings)

    # -- idle baseline ---------------------------------------------------------------------

    def measure_idle(self) -> float | None:
        """Settle for `settle_s`, then measure idle power over `idle_s` seconds (thesis §3.3.3).

        Returns the idle power in watts and keeps it as `idle_power_w` (and each part's in
        `idle_power_parts_w`), from which later measurements get `energy_net_j` (and each
        part's net energy). The `idle_s` window is cut into `idle_windows` consecutive windows
        whose powers give the baseline's spread (`idle_sd_w`, over `idle_n` windows), which
        the net figures' intervals carry (green_ai.stats.intervals); the baseline itself is
        the whole window's, as before. `None` when `idle_s` is 0, nothing measures energy, or
        a sensor failed (parts that did read keep their baseline). Called again (a long
        study's `energy.idle_every_s`), it replaces the baseline; `idle_first_w` keeps the
        first.
        """
        if self.idle_s <= 0 or self.kind == NONE:
            return None
        self._sleep(self.settle_s)
        self.begin(IDLE_WINDOW)
        powers = []
        for i in range(max(1, self.idle_windows)):
            with self.window(f"{IDLE_WINDOW}.{i}") as sub:
                self._sleep(self.idle_s / max(1, self.idle_windows))
            m = sub.measurement
            if m is not None and m.energy_j is not None and m.duration_s > 0:
                powers.append(m.energy_j / m.duration_s)
        m = self.end(IDLE_WINDOW)
        if m.duration_s > 0:
            self.idle_power_parts_w = {p: j / m.duration_s for p, j in m.parts_j.items()}
        if m.energy_j is None or m.duration_s <= 0:
            log.warning("energy: idle power not measured (%s)", m.reason)
            return None
        self.idle_power_w = m.energy_j / m.duration_s
        spread = len(powers) >= 2 and len(powers) == max(1, self.idle_windows)
        self.idle_sd_w = statistics.stdev(powers) if spread else None
        self.idle_n = len(powers) if spread else 0
        if self.idle_first_w is None:
            self.idle_first_w = self.idle_power_w
        self.idle_measured_at = self._clock()
        return self.idle_power_w

    def idle_age_s(self) -> float | None:
        """Seconds since idle power was last measured; `None` when it never was."""
        at = self.idle_measured_at
        return None if at is None else self._clock() - at

    def settle(self, max_s: float) -> float:
        """Wait until the polled power has been steady for `SETTLE_HOLD_S` (each sample within
        `SETTLE_TOLERANCE` of their mean) or back near idle power, at most `max_s` seconds;
        return the seconds waited. The previous window's heat and clocks then fade before the
        next is measured (thesis §4.6.1: the GPU idled high for its first minutes). Nothing to
        poll, or `max_s` 0: no wait."""
        polling = [b for b in self._backends if b.polls]
        if max_s <= 0 or not polling:
            return 0.0
        start = self._clock()
        samples: list[tuple[float, float]] = []
        prev: tuple[float, list[Reading | str]] | None = None
        while True:
            with self._lock:
                t = self._clock()
                readings = [self._read(b) for b in polling]
            power = _power_now(prev, t, readings)
            if power is not None:
                samples.append((t, power))
            if self._settled(samples, t, len(polling) == len(self._backends)):
                break
            left = max_s - (t - start)
            if left <= 0:
                break
            self._sleep(min(self.interval_s, left))
            prev = (t, readings)
        return self._clock() - start

    def _settled(self, samples: list[tuple[float, float]], now: float, all_poll: bool) -> bool:
        """Whether the last `SETTLE_HOLD_S` of samples are steady, or near idle power."""
        if not samples or now - samples[0][0] < SETTLE_HOLD_S:
            return False
        recent = [p for t, p in samples if t >= now - SETTLE_HOLD_S]
        mean = sum(recent) / len(recent)
        if mean > 0 and max(recent) - min(recent) <= SETTLE_TOLERANCE * mean:
            return True
        idle = self.idle_power_w
        return all_poll and idle is not None and idle > 0 and mean <= idle * (1 + SETTLE_TOLERANCE)

    def close(self) -> None:
        """Stop the sampler and release the sensor libraries. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for backend in self._backends:
            backend.close()

    def __enter__(self) -> EnergyMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _sync(self) -> None:
        # Only CUDA queues work asynchronously; a CPU device has nothing to wait for.
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _read(self, backend: Backend) -> Reading | str:
        """A reading, or the reason it failed. Nothing raised here reaches the caller."""
        try:
            return backend.read()
        except SensorError as exc:
            reason = str(exc)
        except Exception as exc:  # a backend bug must cost a figure, not the study
            reason = f"{type(exc).__name__}: {exc}"
        if backend.name not in self._warned:
            self._warned.add(backend.name)
            log.warning(
                "energy: %s reading failed (%s); windows it spoils say so in their energy kind "
                "and reason (warned once)",
                backend.name,
                reason,
            )
        return reason

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def _measurement(self, state: _Open, t1: float) -> Measurement:
        duration = t1 - state.t0
        util = state.util_sum / state.util_n if state.util_n else None
        if self._kind == NONE:
            return Measurement(
                name=state.name,
                duration_s=duration,
                power_peak_w=state.peak_w,
                gpu_util_mean=util,
                backend=self._name,
                kind=NONE,
                reason="energy=none: durations only",
            )
        per_device: dict[str, float] = {}
        parts: dict[str, float] = {}
        kinds: list[str] = []
        reasons: list[str] = []
        disagreements: list[str] = []
        for track in state.tracks:
            part = track.result(duration)
            kinds.append(part.kind)
            if part.reason:
                reasons.append(part.reason)
            said = self._disagreement(track.backend.name, part, duration)
            if said:
                disagreements.append(said)
            for dev, joules in (part.per_device_j or {}).items():
                per_device[dev] = joules
                key = track.backend.part(dev)
                parts[key] = parts.get(key, 0.0) + joules
        kind = next((k for k in (UNAVAILABLE, PARTIAL, ESTIMATED) if k in kinds), MEASURED)
        energy = None if kind == UNAVAILABLE else sum(per_device.values())
        net = None
        if energy is not None and self.idle_power_w is not None:
            net = energy - self.idle_power_w * duration
        parts_net = {
            p: j - self.idle_power_parts_w[p] * duration
            for p, j in parts.items()
            if p in self.idle_power_parts_w
        }
        return Measurement(
            name=state.name,
            duration_s=duration,
            power_peak_w=state.peak_w,
            gpu_util_mean=util,
            backend=self._name,
            energy_j=energy,
            energy_net_j=net,
            power_mean_w=energy / duration if energy is not None and duration > 0 else None,
            per_device_j=per_device,
            parts_j=parts,
            parts_net_j=parts_net,
            kind=kind,
            reason="; ".join(reasons) or None,
            temp_c_start=state.temp_first,
            temp_c_end=state.temp_last,
            sm_clock_mhz_mean=state.clock_sum / state.clock_n if state.clock_n else None,
            disagreement="; ".join(disagreements) or None,
        )

    def _disagreement(self, name: str, part: _Part, duration_s: float) -> str | None:
        """Both figures, where the counter and the polled power of one backend differ by more
        than `disagreement_pct` over a window of at least `DISAGREEMENT_MIN_S` (shorter ones
        differ by design: NVML's power reading is a one-second average)."""
        if part.polled_j is None or part.per_device_j is None or duration_s < DISAGREEMENT_MIN_S:
            return None
        counter = sum(part.per_device_j.values())
        if counter <= 0:
            return None
        pct = 100.0 * abs(part.polled_j - counter) / counter
        if pct <= self.disagreement_pct:
            return None
        return (
            f"{name}: counter {counter:.1f} J, polled power {part.polled_j:.1f} J "
            f"({pct:.1f} % apart over {duration_s:.1f} s)"
        )


def _power_now(
    prev: tuple[float, list[Reading | str]] | None, t: float, readings: list[Reading | str]
) -> float | None:
    """The summed power of polled readings at `t`: sampled power, or a counter's rise since
    `prev`; `None` when any backend gives neither."""
    total = 0.0
    for i, reading in enumerate(readings):
        if not isinstance(reading, Reading):
            return None
        if reading.power_w is not None:
            total += sum(reading.power_w.values())
            continue
        before = prev[1][i] if prev is not None else None
        if (
            prev is None
            or t <= prev[0]
            or reading.energy_j is None
            or not isinstance(before, Reading)
            or before.energy_j is None
        ):
            return None
        rise = sum(e - before.energy_j.get(dev, e) for dev, e in reading.energy_j.items())
        total += rise / (t - prev[0])
    return total
