"""Intervals of a mean energy: they cover the true mean as often as they say."""

from __future__ import annotations

import numpy as np
import pytest

from green_ai.stats.intervals import mean_interval, net_interval


def test_95_percent_intervals_cover_a_known_mean_over_100_seeds() -> None:
    true_mean = 500.0
    covered = 0
    for seed in range(100):
        sample = np.random.default_rng(seed).normal(true_mean, 25.0, size=5)
        iv = mean_interval(list(sample), confidence=0.95)
        assert iv is not None and iv.low < iv.mean < iv.high
        covered += iv.low <= true_mean <= iv.high
    assert covered >= 90


def test_net_intervals_carry_the_idle_baselines_spread() -> None:
    # Net = gross - idle x duration; the idle estimate from 5 windows is itself noisy. An
    # interval that ignored it would cover far less often than 95 %.
    true_gross, true_idle, duration = 1000.0, 60.0, 10.0
    true_net = true_gross - true_idle * duration
    covered = covered_ignoring_idle = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        idle_windows = rng.normal(true_idle, 3.0, size=5)
        idle = float(idle_windows.mean())
        net = list(rng.normal(true_gross, 5.0, size=4) - idle * duration)
        iv = net_interval(
            net,
            [duration] * 4,
            idle_sd_w=float(idle_windows.std(ddof=1)),
            idle_n=5,
            confidence=0.95,
        )
        plain = mean_interval(net, 0.95)
        assert iv is not None and plain is not None and iv.half_width > plain.half_width
        covered += iv.low <= true_net <= iv.high
        covered_ignoring_idle += plain.low <= true_net <= plain.high
    assert covered >= 90
    assert covered_ignoring_idle < 80


def test_no_interval_from_one_value_and_the_level_sets_the_width() -> None:
    assert mean_interval([123.0]) is None
    values = [10.0, 12.0, 11.0, 13.0]
    narrow, wide = mean_interval(values, 0.8), mean_interval(values, 0.99)
    assert narrow is not None and wide is not None
    assert narrow.half_width < wide.half_width
    assert narrow.mean == pytest.approx(11.5)
    assert narrow.rel_half_width == pytest.approx(narrow.half_width / 11.5)
