"""Named measurement windows over one backend, and the idle baseline.

A window's energy is the difference of the backend's counter between its two edges when the
backend has one (NVML's hardware counter, RAPL, the CPU-time estimate); otherwise the trapezoid
integral of timestamped power samples, taken at both edges and by a background sampler every
`interval_s` in between (thesis §3.3.3 polled every 100 ms without timestamps; we keep them).
Peak power and GPU utilisation always come from the samples.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from green_ai.energy._backend import Backend, Reading, SensorError
from green_ai.energy._measurement import NONE, UNAVAILABLE, Measurement

log = logging.getLogger(__name__)

IDLE_WINDOW = "_idle"


@dataclass
class _Open:
    """Running state of one open window, updated by every reading while it is open."""

    name: str
    t0: float
    first: Reading | None = None
    last_t: float = 0.0
    last_power: dict[str, float] | None = None
    trapezoid_j: dict[str, float] = field(default_factory=dict)
    peak_w: float | None = None
    util_sum: float = 0.0
    util_n: int = 0
    error: str | None = None

    def add(self, t: float, reading: Reading) -> None:
        if self.error is not None:
            return
        if self.first is None:
            self.first = reading
        power = reading.power_w
        if power is not None:
            if self.last_power is not None:
                dt = t - self.last_t
                for dev, p in power.items():
                    prev = self.last_power.get(dev, p)
                    self.trapezoid_j[dev] = self.trapezoid_j.get(dev, 0.0) + dt * (p + prev) / 2
            total = sum(power.values())
            self.peak_w = total if self.peak_w is None else max(self.peak_w, total)
            self.last_power = power
        self.last_t = t
        if reading.util_pct is not None:
            self.util_sum += reading.util_pct
            self.util_n += 1


class Window:
    """Handle of `EnergyMeter.window`; `measurement` is set when the block ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.measurement: Measurement | None = None


class EnergyMeter:
    """Named, nestable measurement windows over one backend.

    Use `build_meter` to get one. A duplicate name (a window of that name already open) or an
    unknown one at `end` is a `ValueError`. On a CUDA device both edges synchronise the GPU, so
    queued kernels are counted in the window that launched them. A sensor failure inside a
    window yields a measurement of kind `unavailable` with the reason; it never raises.
    """

    def __init__(
        self,
        backend: Backend,
        device: torch.device,
        *,
        idle_s: float = 2.0,
        settle_s: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        threaded: bool = True,
    ) -> None:
        self._backend = backend
        self.device = device
        self.idle_s = idle_s
        self.settle_s = settle_s
        self._clock = clock
        self._sleep = sleep
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle_power_w: float | None = None
        self._closed = False
        if threaded and backend.polls:
            self._thread = threading.Thread(target=self._run, name="energy-sampler", daemon=True)
            self._thread.start()

    @property
    def backend(self) -> str:
        """`nvml`, `rapl`, `estimate` or `none`."""
        return self._backend.name

    @property
    def kind(self) -> str:
        """`measured`, `estimated` or `none`."""
        return self._backend.kind

    @property
    def device_names(self) -> list[str]:
        """What is measured, e.g. `["cuda:0 NVIDIA H200"]`."""
        return list(self._backend.device_names)

    def describe(self) -> str:
        return self._backend.describe()

    # -- windows ---------------------------------------------------------------------------

    def begin(self, name: str) -> None:
        """Open the window `name` (after synchronising the GPU)."""
        if name in self._open:
            raise ValueError(f"energy window {name!r} is already open")
        self._sync()
        with self._lock:
            t = self._clock()
            state = _Open(name=name, t0=t)
            reading = self._read()
            if isinstance(reading, str):
                state.error = reading
            else:
                state.add(t, reading)
            self._open[name] = state

    def end(self, name: str) -> Measurement:
        """Close the window `name` and return what it measured."""
        if name not in self._open:
            raise ValueError(f"no open energy window named {name!r}")
        self._sync()
        with self._lock:
            t = self._clock()
            reading = self._read()
            state = self._open.pop(name)
            if isinstance(reading, str):
                state.error = state.error or reading
            else:
                state.add(t, reading)
        return self._measurement(state, t, reading)

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
        """Take one sample into every open window; the background sampler calls this."""
        with self._lock:
            if not self._open:
                return
            t = self._clock()
            reading = self._read()
            for state in self._open.values():
                if isinstance(reading, str):
                    state.error = state.error or reading
                else:
                    state.add(t, reading)

    # -- idle baseline ---------------------------------------------------------------------

    def measure_idle(self) -> float | None:
        """Settle for `settle_s`, then measure idle power over `idle_s` seconds (thesis §3.3.3).

        Returns the idle power in watts and keeps it as `idle_power_w`, from which every later
        measurement gets `energy_net_j`. `None` when `idle_s` is 0, the backend measures no
        energy, or the sensor failed.
        """
        if self.idle_s <= 0 or self._backend.kind == NONE:
            return None
        self._sleep(self.settle_s)
        self.begin(IDLE_WINDOW)
        self._sleep(self.idle_s)
        m = self.end(IDLE_WINDOW)
        if m.energy_j is None or m.duration_s <= 0:
            log.warning("energy: idle power not measured (%s)", m.reason)
            return None
        self.idle_power_w = m.energy_j / m.duration_s
        return self.idle_power_w

    def close(self) -> None:
        """Stop the sampler and release the sensor library. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._backend.close()

    def __enter__(self) -> EnergyMeter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _sync(self) -> None:
        # Only CUDA queues work asynchronously; a CPU device has nothing to wait for.
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _read(self) -> Reading | str:
        """A reading, or the reason it failed. Nothing raised here reaches the training."""
        try:
            return self._backend.read()
        except SensorError as exc:
            return str(exc)
        except Exception as exc:  # a backend bug must cost a figure, not the study
            return f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        interval = self._backend.interval_s
        while not self._stop.wait(interval):
            self.poll()

    def _measurement(self, state: _Open, t1: float, last: Reading | str) -> Measurement:
        duration = t1 - state.t0
        backend, kind = self._backend.name, self._backend.kind
        if state.error is not None:
            return Measurement(
                name=state.name,
                duration_s=duration,
                backend=backend,
                kind=UNAVAILABLE,
                reason=state.error,
            )
        assert isinstance(last, Reading) and state.first is not None
        per_device: dict[str, float] | None = None
        first = state.first
        if first.energy_j is not None and last.energy_j is not None:
            per_device = {dev: last.energy_j[dev] - e0 for dev, e0 in first.energy_j.items()}
        elif state.last_power is not None:
            per_device = dict(state.trapezoid_j) or dict.fromkeys(state.last_power, 0.0)
        util = state.util_sum / state.util_n if state.util_n else None
        if per_device is None:
            return Measurement(
                name=state.name,
                duration_s=duration,
                power_peak_w=state.peak_w,
                gpu_util_mean=util,
                backend=backend,
                kind=kind,
                reason="energy=none: durations only" if kind == NONE else "no energy reading",
            )
        energy = sum(per_device.values())
        net = None
        if self.idle_power_w is not None:
            net = energy - self.idle_power_w * duration
        return Measurement(
            name=state.name,
            duration_s=duration,
            energy_j=energy,
            energy_net_j=net,
            power_mean_w=energy / duration if duration > 0 else None,
            power_peak_w=state.peak_w,
            gpu_util_mean=util,
            per_device_j=per_device,
            backend=backend,
            kind=kind,
        )
