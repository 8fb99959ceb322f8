"""Confidence intervals of a mean energy (thesis §3.7.1: 24 repetitions were to "drown out"
background noise; an interval says how far they did).

Method: Student's t-interval (`scipy.stats.t`), which assumes the repetitions' mean is close
to normal; a round's few repetitions give no basis for a bootstrap. A net figure (gross minus
idle power x duration) also carries the idle baseline's own uncertainty, measured from several
idle windows: the two variances of the mean are added and the degrees of freedom follow
Welch-Satterthwaite.

    iv = mean_interval([101.0, 98.5, 100.2], confidence=0.95)   # None below two values
    iv.low, iv.high, iv.half_width, iv.rel_half_width
    net = net_interval(net_j, durations_s, idle_sd_w=0.8, idle_n=5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """A mean and its two-sided interval at `confidence`; `n` values gave it."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def rel_half_width(self) -> float:
        """Half-width over |mean| (0.02: within 2 %); infinite when the mean is 0."""
        return self.half_width / abs(self.mean) if self.mean else math.inf


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval | None:
    """The t-interval of the mean of `values`; `None` with fewer than two (no spread)."""
    return net_interval(values, (), idle_sd_w=0.0, idle_n=0, confidence=confidence)


def net_interval(
    values: Sequence[float],
    durations_s: Sequence[float],
    *,
    idle_sd_w: float,
    idle_n: int,
    confidence: float = 0.95,
) -> Interval | None:
    """The interval of the mean of net `values` (joules), each measured over `durations_s`
    and net of one idle power estimated from `idle_n` windows whose powers spread by
    `idle_sd_w` (sample standard deviation). The idle estimate's error shifts every value
    alike: its variance of the mean, `(mean duration)^2 * idle_sd_w^2 / idle_n`, adds to the
    values' own. Fewer than two values: `None`; fewer than two idle windows: the values'
    spread alone."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2 or not np.all(np.isfinite(x)):
        return None
    mean = float(x.mean())
    var_values = float(x.var(ddof=1)) / n
    var_idle = 0.0
    if idle_n >= 2 and len(durations_s) == n:
        var_idle = float(np.mean(durations_s)) ** 2 * idle_sd_w**2 / idle_n
    total = var_values + var_idle
    if total <= 0:
        return Interval(mean, mean, mean, n, confidence)
    # Welch-Satterthwaite: the degrees of freedom of a sum of two estimated variances.
    df = total**2 / (var_values**2 / (n - 1) + (var_idle**2 / (idle_n - 1) if var_idle else 0))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * math.sqrt(total)
    return Interval(mean, mean - half, mean + half, n, confidence)
