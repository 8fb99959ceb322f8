"""The simulator against cases worked out by hand, and `recommend` (thesis §4.5.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from green_ai.errors import UserError
from green_ai.inference import (
    FixedBatching,
    GreedyBatching,
    Profile,
    TimeoutBatching,
    arrival_offsets,
    candidates,
    recommend,
    simulate,
)


def test_fixed_batches_at_a_constant_rate() -> None:
    # Requests every 0.1 s; pairs are served when the second arrives, for 0.05 s each.
    profile = Profile([1, 2], service_s=[0.05, 0.05], energy_j=[1.0, 2.0], idle_power_w=10.0)
    arrivals = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    metrics, trace = simulate(profile, arrivals, FixedBatching(2))
    assert [(b.first, b.size) for b in trace.batches] == [(0, 2), (2, 2), (4, 2)]
    assert [b.start_s for b in trace.batches] == pytest.approx([0.1, 0.3, 0.5])
    assert trace.response_s == pytest.approx([0.15, 0.05, 0.15, 0.05, 0.15, 0.05])
    assert metrics.response_max_s == pytest.approx(0.15)
    assert metrics.duration_s == pytest.approx(0.55)
    assert metrics.batches == 3
    assert metrics.batch_size_mean == 2
    # 3 batches x 2 J, and 10 W over the 0.55 - 0.15 s the model waited: 10 J for 6 images.
    assert metrics.energy_j == pytest.approx(10.0)
    assert metrics.energy_per_image_j == pytest.approx(10.0 / 6)
    assert metrics.arrival_lag_max_s == 0.0


def test_greedy_when_the_model_is_slower_than_the_stream() -> None:
    # Service 0.25 s whatever the size; requests every 0.1 s. Served: {0} from 0 to 0.25,
    # {1, 2} from 0.25 to 0.5, {3, 4} from 0.5 to 0.75.
    profile = Profile([1, 8], service_s=[0.25, 0.25])
    arrivals = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    metrics, trace = simulate(profile, arrivals, GreedyBatching(128))
    assert [b.size for b in trace.batches] == [1, 2, 2]
    assert trace.response_s == pytest.approx([0.25, 0.4, 0.3, 0.45, 0.35])
    assert metrics.response_p50_s == pytest.approx(0.35)
    assert metrics.throughput_rps == pytest.approx(5 / 0.75)
    assert metrics.energy_j is None  # no energy in the profile: absent, not 0


def test_timeout_releases_a_partial_batch_at_the_deadline() -> None:
    # Batch 3, delay 0.3 s, service 0.1 s. {0, 1} wait until 0 + 0.3 and end at 0.4; {2, 3, 4}
    # fill up at 1.1 and end at 1.2.
    profile = Profile([1, 3], service_s=[0.1, 0.1])
    arrivals = np.array([0.0, 0.1, 1.0, 1.05, 1.1])
    _, trace = simulate(profile, arrivals, TimeoutBatching(3, 0.3))
    assert [(b.first, b.size) for b in trace.batches] == [(0, 2), (2, 3)]
    assert [b.start_s for b in trace.batches] == pytest.approx([0.3, 1.1])
    assert trace.response_s == pytest.approx([0.4, 0.3, 0.2, 0.15, 0.1])


def test_the_last_partial_fixed_batch_is_flushed_when_the_stream_ends() -> None:
    profile = Profile([1, 4], service_s=[0.01, 0.04])
    arrivals = np.arange(6) * 0.5
    _, trace = simulate(profile, arrivals, FixedBatching(4))
    assert [b.size for b in trace.batches] == [4, 2]
    # The pair goes as soon as the last request arrives (2.5 s), served in 0.02 s.
    assert trace.batches[1].start_s == pytest.approx(2.5)
    assert trace.batches[1].end_s == pytest.approx(2.52)


def test_batches_after_a_pause_are_priced_by_how_long_the_model_idled() -> None:
    # Back to back 0.1 s and 1 J; after a pause of 0.5 s or more 0.2 s and 2 J; idle 1 W.
    # Greedy serves {0} first (priced after the longest pause: 0 to 0.2), {1} straight after
    # (0.2 to 0.3), {2} after idling 0.7 s (1.0 to 1.2), and {3} after idling 0.25 s: halfway
    # from back to back to the shortest pause, 0.15 s and 1.5 J (1.45 to 1.6).
    profile = Profile(
        [1, 2],
        service_s=[0.1, 0.1],
        energy_j=[1.0, 1.0],
        idle_power_w=1.0,
        pauses_s=[0.5],
        service_cold_s=[[0.2, 0.2]],
        energy_cold_j=[[2.0, 2.0]],
    )
    arrivals = np.array([0.0, 0.05, 1.0, 1.45])
    metrics, trace = simulate(profile, arrivals, GreedyBatching(8))
    assert [b.start_s for b in trace.batches] == pytest.approx([0.0, 0.2, 1.0, 1.45])
    assert [b.end_s for b in trace.batches] == pytest.approx([0.2, 0.3, 1.2, 1.6])
    assert trace.response_s == pytest.approx([0.2, 0.25, 0.2, 0.15])
    # Batches 2 + 1 + 2 + 1.5 J, idle 1 W over 1.6 - 0.65 s.
    assert metrics.energy_j == pytest.approx(6.5 + 0.95)


def test_cost_after_a_pause_is_interpolated_on_a_log_scale() -> None:
    p = Profile(
        [1, 2], service_s=[1.0, 1.0], pauses_s=[0.1, 1.0], service_cold_s=[[2.0, 2.0], [4.0, 4.0]]
    )
    assert p.service_time(1, idle_s=0.0) == pytest.approx(1.0)
    assert p.service_time(1, idle_s=0.05) == pytest.approx(1.5)
    assert p.service_time(1, idle_s=10**-0.5) == pytest.approx(3.0)  # halfway in log(pause)
    assert p.service_time(1, idle_s=30.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="one row per pause"):
        Profile([1], service_s=[1.0], pauses_s=[0.1, 1.0], service_cold_s=[[2.0]])


def test_profile_interpolates_between_sizes_and_extends_beyond() -> None:
    p = Profile([2, 4, 8], service_s=[0.2, 0.3, 0.7], energy_j=[2.0, 3.0, 5.0])
    assert p.service_time(3) == pytest.approx(0.25)
    assert p.service_time(6) == pytest.approx(0.5)
    assert p.service_time(10) == pytest.approx(0.9)  # last segment extended: 0.1 s per image
    assert p.service_time(1) == pytest.approx(0.15)  # first segment extended backwards
    assert p.batch_energy(16) == pytest.approx(9.0)
    with pytest.raises(ValueError, match="sorted"):
        Profile([4, 2], service_s=[0.1, 0.2])


def test_profile_round_trips_through_json(tmp_path: Path) -> None:
    p = Profile([1, 2], [0.1, 0.15], [1.0, 1.6], [50.0, 60.0], 20.0, [0.5], [[0.2, 0.3]])
    p.save(tmp_path / "p.json")
    assert Profile.load(tmp_path / "p.json") == p
    with pytest.raises(UserError, match="cannot read"):
        Profile.load(tmp_path / "missing.json")


def test_greedy_at_a_low_rate_serves_nearly_one_request_per_batch() -> None:
    # Greedy at a low rate is the simulator's worst case: about one batch per request (how
    # fast it runs is scripts/bench_simulator.py's line "simulator speed", not a test's).
    profile = Profile([1, 128], service_s=[0.005, 0.2], energy_j=[0.5, 20], idle_power_w=30.0)
    arrivals = arrival_offsets(frequency=16, requests=8192, arrivals="poisson", seed=0)
    metrics, _ = simulate(profile, arrivals, GreedyBatching(128))
    assert 7000 < metrics.batches <= 8192


# A stream of 10 requests/s, a model that costs 1 J per batch whatever its size, 10 ms per
# batch, no idle power: energy per image is 1 / batch size, and fixed-k holds its first request
# (k - 1) / 10 s.
FLAT = Profile([1, 8], service_s=[0.01, 0.01], energy_j=[1.0, 1.0], idle_power_w=0.0)
STREAM = np.arange(40) / 10


def test_recommend_picks_the_largest_batch_within_the_limit() -> None:
    policies = candidates([1, 2, 4, 8], max_batch=128, max_delays_s=[0.25])
    best, ranked = recommend(FLAT, STREAM, policies, limit_s=0.35, statistic="max")
    # fixed-4: 0.25 J/image, max 0.31 s. fixed-8 (0.71 s) is too slow; timeout-*-0.25 s forms
    # batches of 3 (0.33 J/image).
    assert best is not None
    assert best.label == "fixed-4"
    assert best.metrics.energy_per_image_j == pytest.approx(0.25)
    assert best.metrics.response_max_s == pytest.approx(0.31)
    energies = [c.metrics.energy_per_image_j or 0.0 for c in ranked]
    assert None not in [c.metrics.energy_per_image_j for c in ranked]
    assert energies == sorted(energies)
    assert ranked[0].label == "fixed-8"  # the most efficient overall, but over the limit
    tight, _ = recommend(FLAT, STREAM, policies, limit_s=0.2, statistic="max")
    assert tight is not None and tight.label == "fixed-2"
    none, _ = recommend(FLAT, STREAM, policies, limit_s=0.005, statistic="max")
    assert none is None


def test_recommend_needs_energy_in_the_profile() -> None:
    no_energy = Profile([1, 8], service_s=[0.01, 0.01])
    with pytest.raises(UserError, match="energy"):
        recommend(no_energy, STREAM, [FixedBatching(2)], limit_s=1.0)
    with pytest.raises(UserError, match="p99 or max"):
        recommend(FLAT, STREAM, [FixedBatching(2)], limit_s=1.0, statistic="mean")


# -- what the real loop adds: drawn service times, wake-up lag and energy (issue 12) -----------


def test_service_times_are_drawn_from_the_profile_and_the_draws_are_seeded() -> None:
    # Batches of one every 0.1 s; a tenth of the profiled batches took 30 ms instead of 10 ms.
    profile = Profile([1, 2], service_s=[0.01, 0.02], service_samples_s=[[0.01] * 9 + [0.03]] * 2)
    arrivals = np.arange(400) / 10
    metrics, trace = simulate(profile, arrivals, GreedyBatching(8), seed=1)
    response = trace.response_s
    assert metrics.response_p50_s == pytest.approx(0.01, rel=0.05)
    assert 0.02 < metrics.response_p99_s <= metrics.response_max_s <= 0.03 + 1e-9
    assert 0.02 < np.mean(response > 0.0125) * 10 < 2.0  # about a tenth are slow
    again, _ = simulate(profile, arrivals, GreedyBatching(8), seed=1)
    other, _ = simulate(profile, arrivals, GreedyBatching(8), seed=2)
    assert again == metrics
    assert other != metrics


def test_every_sleep_wakes_late_by_a_profiled_lag_and_costs_a_wake_up() -> None:
    # The loop sleeps until each arrival and wakes 4 ms late: every greedy response is the lag
    # plus the 10 ms service; each wake-up costs 0.5 J beyond 1 W of idle power.
    profile = Profile(
        [1, 2],
        service_s=[0.01, 0.01],
        energy_j=[1.0, 1.0],
        idle_power_w=1.0,
        wake_lag_s=[0.004],
        wake_energy_j=0.5,
    )
    arrivals = np.arange(1, 11) / 10  # the first arrival is 0.1 s in: ten sleeps
    metrics, trace = simulate(profile, arrivals, GreedyBatching(8))
    assert trace.response_s == pytest.approx([0.014] * 10)
    assert trace.wake_lags == pytest.approx([0.004] * 10)
    assert metrics.arrival_lag_max_s == pytest.approx(0.004)
    # 10 batches, 10 wake-ups, and idle power over the run minus its 0.1 s of batches.
    assert metrics.energy_j == pytest.approx(10 * 1.0 + 10 * 0.5 + 1.0 * (1.014 - 0.1))


def test_the_run_prices_each_idle_gap_by_its_length() -> None:
    # Idling costs 4 W in gaps of 0.1 s or less and 1 W in gaps of 1 s or more.
    profile = Profile(
        [1, 2],
        service_s=[0.1, 0.1],
        energy_j=[0.0, 0.0],
        idle_power_w=1.0,
        idle_s=1.0,
        pauses_s=[0.1],
        service_cold_s=[[0.1, 0.1]],
        energy_cold_j=[[0.0, 0.0]],
        pause_power_w=[4.0],
    )
    arrivals = np.array([0.0, 0.2, 1.3])  # gaps of 0.1 s and 1.0 s after the first batch
    metrics, _ = simulate(profile, arrivals, GreedyBatching(8))
    assert metrics.energy_j == pytest.approx(4.0 * 0.1 + 1.0 * 1.0)


def test_predictions_log_co2_from_the_grid_intensity() -> None:
    metrics, _ = simulate(FLAT, STREAM, FixedBatching(4), grid_intensity_g_per_kwh=360.0)
    assert metrics.energy_j is not None
    assert metrics.co2_g == pytest.approx(metrics.energy_j / 3.6e6 * 360.0)
    assert simulate(FLAT, STREAM, FixedBatching(4))[0].co2_g is None


def test_identical_predictions_are_collapsed_into_one_candidate() -> None:
    # At 10 requests/s and 10 ms per batch, greedy and every batch-of-one policy serve the
    # same batches: one row, the simplest policy first.
    policies = candidates([1, 2], max_batch=8, max_delays_s=[0.25])
    _, ranked = recommend(FLAT, STREAM, policies, limit_s=1.0)
    ones = [c for c in ranked if c.label == "fixed-1"]
    assert len(ones) == 1
    assert [p.describe() for p in ones[0].same_as] == ["greedy-8", "timeout-1-0.25s"]
    labels = [p.describe() for c in ranked for p in c.policies]
    assert sorted(labels) == sorted(p.describe() for p in policies)
