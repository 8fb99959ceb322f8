"""The cost model of a profile: distributions, monotone sizes, idle gaps, wake-up lags."""

from __future__ import annotations

import random
import statistics

import pytest

from green_ai.inference import Profile

# Two sizes, each with a spread: most batches at the median, one 10 ms or 20 ms slower, one
# 20% faster.
SAMPLES = [[0.008] + [0.010] * 8 + [0.020], [0.024] + [0.030] * 8 + [0.050]]
SPREAD = Profile([1, 4], service_s=[0.010, 0.030], service_samples_s=SAMPLES)


def test_without_a_quantile_the_service_time_is_the_median() -> None:
    assert SPREAD.service_time(1) == pytest.approx(0.010)
    assert SPREAD.service_time(4) == pytest.approx(0.030)
    assert SPREAD.service_time(2) == pytest.approx(0.010 + 0.020 / 3)


def test_slow_batches_lose_absolute_time_and_fast_ones_are_fast_in_proportion() -> None:
    # Pooled over both sizes: 2 of 20 batches are faster (both by 20%), 18 at or above the
    # median, two of them by 10 ms and 20 ms.
    assert SPREAD.service_time(1, quantile=0.0) == pytest.approx(0.008)
    assert SPREAD.service_time(4, quantile=0.0) == pytest.approx(0.024)
    assert SPREAD.service_time(1, quantile=1.0) == pytest.approx(0.030)
    assert SPREAD.service_time(4, quantile=1.0) == pytest.approx(0.050)
    assert SPREAD.service_time(1, quantile=0.5) == pytest.approx(0.010)
    # Uniform draws reproduce the spread: about a tenth of the batches are slow.
    rng = random.Random(0)
    draws = [SPREAD.service_time(1, quantile=rng.random()) for _ in range(5000)]
    assert statistics.median(draws) == pytest.approx(0.010)
    slow = sum(d > 0.011 for d in draws) / len(draws)
    assert 0.05 < slow < 0.15
    # Between profiled sizes: the interpolated median plus the drawn excess.
    assert SPREAD.service_time(2, quantile=1.0) == pytest.approx(0.010 + 0.020 / 3 + 0.020)


def test_a_noisy_median_cannot_make_a_larger_batch_faster() -> None:
    # Measured: batch 2 looked faster than batch 1. Greedy batching near saturation flipped
    # regimes on such noise; the isotonic fit pools the two instead.
    noisy = Profile([1, 2, 4], service_s=[0.012, 0.010, 0.020], energy_j=[1.2, 1.0, 2.0])
    assert noisy.service_time(1) == pytest.approx(0.011)
    assert noisy.service_time(2) == pytest.approx(0.011)
    assert noisy.batch_energy(1) == pytest.approx(1.1)
    times = [noisy.service_time(n) for n in range(1, 9)]
    assert times == sorted(times)


def test_idle_gaps_cost_the_power_of_idling_that_long() -> None:
    # 5 W in the first 0.1 s after a batch, 2 W averaged over a second, 1 W over 10 s of rest.
    p = Profile(
        [1, 2],
        service_s=[0.01, 0.02],
        energy_j=[0.1, 0.2],
        idle_power_w=1.0,
        idle_s=10.0,
        pauses_s=[0.1, 1.0],
        service_cold_s=[[0.01, 0.02], [0.01, 0.02]],
        pause_power_w=[5.0, 2.0],
    )
    assert p.idle_energy(0.0) == 0.0
    assert p.idle_energy(0.05) == pytest.approx(5.0 * 0.05)
    assert p.idle_energy(1.0) == pytest.approx(2.0)
    assert p.idle_energy(10**0.5) == pytest.approx(1.5 * 10**0.5)  # halfway in log(gap)
    assert p.idle_energy(100.0) == pytest.approx(100.0)
    # Without pause power, idle power throughout (hand-made profiles).
    flat = Profile([1], service_s=[0.01], energy_j=[0.1], idle_power_w=3.0)
    assert flat.idle_energy(2.0) == pytest.approx(6.0)
    assert Profile([1], service_s=[0.01]).idle_energy(2.0) is None


def test_wake_lags_are_drawn_from_the_profiled_ones() -> None:
    p = Profile([1], service_s=[0.01], wake_lag_s=[0.004, 0.0, 0.001, 0.002])
    assert p.wake_lag(0.0) == 0.0
    assert p.wake_lag(1.0) == pytest.approx(0.004)
    assert p.wake_lag(0.5) == pytest.approx(0.0015)
    assert Profile([1], service_s=[0.01]).wake_lag(0.9) == 0.0


def test_the_spread_is_pooled_over_every_timed_batch_without_far_out_stalls() -> None:
    # Batches after a pause are slower; slow batches lost up to 30 ms. A burst of other work
    # stalled one back-to-back batch for a second: far beyond the others, it is left out.
    hot = [[0.007, 0.008, 0.009, 0.009, 0.010, 0.020, 0.030, 0.040, 1.0]]
    cold = [[[0.016, 0.017, 0.018, 0.019, 0.020, 0.030, 0.040, 0.050, 0.050]]]
    p = Profile(
        [1],
        service_s=[0.010],
        service_samples_s=hot,
        pauses_s=[1.0],
        service_cold_s=[[0.020]],
        service_cold_samples_s=cold,
    )
    assert p.service_time(1, idle_s=5.0) == pytest.approx(0.020)
    assert p.service_time(1, idle_s=5.0, quantile=1.0) == pytest.approx(0.050)
    assert p.service_time(1, quantile=1.0) == pytest.approx(0.040)  # back to back, + 30 ms
    assert p.service_time(1, quantile=0.0) == pytest.approx(0.007)  # the fastest, 0.7 x
    # Without samples, the median whatever the quantile.
    assert Profile([1], service_s=[0.01]).service_time(1, quantile=1.0) == pytest.approx(0.01)


def test_a_pause_costs_the_neighbours_ratio_to_back_to_back() -> None:
    # Measured after a pause: 2x back to back at every size but one noisy cell (size 4: 1x).
    p = Profile(
        [1, 2, 4, 8, 16],
        service_s=[0.01, 0.02, 0.04, 0.08, 0.16],
        pauses_s=[1.0],
        service_cold_s=[[0.02, 0.04, 0.04, 0.16, 0.32]],
    )
    assert [p.service_time(n, idle_s=2.0) for n in (1, 2, 4, 8, 16)] == pytest.approx(
        [0.02, 0.04, 0.08, 0.16, 0.32]
    )


def test_malformed_samples_are_rejected() -> None:
    with pytest.raises(ValueError, match="service_samples_s has 1 values"):
        Profile([1, 2], service_s=[0.01, 0.02], service_samples_s=[[0.01]])
    with pytest.raises(ValueError, match="one row per pause"):
        Profile([1], service_s=[0.01], pauses_s=[0.1], pause_power_w=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite seconds"):
        Profile([1], service_s=[0.01], wake_lag_s=[-0.001])
