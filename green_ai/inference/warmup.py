"""Warm-up before a measured run (thesis §4.6.1).

The thesis passed 256 batches of 32 images through the model before each run, because the
first minutes of a GPU ran at different power and speed; that stays as `warmup.mode=fixed`, the
preset of the thesis's design. It can cost far more than the run it prepares (74 s for AlexNet
at 64 px on a CPU before a 3-second run, issue 12), so ad-hoc runs default to
`warmup.mode=steady`: batches go through until the median service time of the last `window`
batches is within `tolerance` of the window before it — the model has stopped getting faster —
bounded below by `min_batches` and above by `max_batches` batches or `max_s` seconds.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from tqdm.auto import tqdm

from green_ai.inference.settings import WarmupSettings

__all__ = ["WarmupResult", "warm_up"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmupResult:
    """What a warm-up did. `settled`: whether the steady criterion was met before a bound
    (None for a fixed warm-up); `service_s`: median service time of the last window."""

    mode: str
    batch_size: int
    batches: int
    seconds: float
    service_s: float | None = None
    settled: bool | None = None

    def describe(self) -> str:
        text = f"{self.mode}, {self.batches} batches of {self.batch_size} in {self.seconds:.1f} s"
        if self.service_s is not None:
            text += f", {self.service_s * 1e3:.2f} ms per batch at the end"
        if self.settled is False:
            text += " (stopped at its bound before the service time settled)"
        return text


def warm_up(
    run_batch: Callable[[int], object],
    settings: WarmupSettings,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> WarmupResult:
    """Pass batches of `settings.batch_size` through `run_batch` as `settings.mode` says.

    A progress bar shows on a terminal (tqdm's `disable=None` hides it elsewhere); one log
    line says what the warm-up did.
    """
    steady = settings.mode == "steady"
    limit = settings.max_batches if steady else settings.batches
    times: list[float] = []
    settled: bool | None = False if steady else None
    start = clock()
    with tqdm(total=limit, desc="warm-up", unit="batch", disable=None, leave=False) as bar:
        while len(times) < limit:
            t = clock()
            run_batch(settings.batch_size)
            times.append(clock() - t)
            bar.update(1)
            if not steady:
                continue
            change = _window_change(times, settings.window)
            if change is not None:
                bar.set_postfix_str(f"{times[-1] * 1e3:.1f} ms, window {change:+.1%}")
                if len(times) >= settings.min_batches and abs(change) <= settings.tolerance:
                    settled = True
                    break
            if clock() - start >= settings.max_s:
                break
    w = settings.window
    result = WarmupResult(
        mode=settings.mode,
        batch_size=settings.batch_size,
        batches=len(times),
        seconds=clock() - start,
        service_s=statistics.median(times[-w:]) if times else None,
        settled=settled,
    )
    log.info("warm-up: %s", result.describe())
    return result


def _window_change(times: list[float], window: int) -> float | None:
    """At the end of each full window after the first: the relative change of its median
    service time from the window before; None between window ends."""
    n = len(times)
    if n < 2 * window or n % window:
        return None
    last = statistics.median(times[-window:])
    before = statistics.median(times[-2 * window : -window])
    return (last - before) / before if before > 0 else 0.0
