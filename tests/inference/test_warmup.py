"""Warm-up: the thesis's fixed count, or until the service time has settled (bounded)."""

from __future__ import annotations

import pytest

from green_ai.errors import UserError
from green_ai.inference import warm_up
from green_ai.inference.settings import WarmupSettings


class FakeModel:
    """Batches whose service times are given; a virtual clock advances by each."""

    def __init__(self, times: list[float]) -> None:
        self.times = list(times)
        self.clock = 0.0
        self.sizes: list[int] = []

    def run_batch(self, size: int) -> None:
        self.sizes.append(size)
        self.clock += self.times[min(len(self.sizes) - 1, len(self.times) - 1)]

    def now(self) -> float:
        return self.clock


def _steady(**kwargs: object) -> WarmupSettings:
    base: dict = dict(mode="steady", batch_size=4, min_batches=8, max_batches=100, window=4)
    return WarmupSettings(**{**base, **kwargs})


def test_fixed_runs_exactly_the_thesis_count() -> None:
    model = FakeModel([0.01])
    result = warm_up(model.run_batch, WarmupSettings(mode="fixed", batches=256), clock=model.now)
    assert result.batches == 256 == len(model.sizes)
    assert set(model.sizes) == {32}
    assert result.mode == "fixed"
    assert result.settled is None
    assert result.seconds == pytest.approx(2.56)


def test_steady_stops_once_two_windows_agree() -> None:
    # Slow first batches (lazy initialisation, cold caches), then a steady 10 ms.
    model = FakeModel([0.5, 0.2, 0.05, 0.02] + [0.01] * 100)
    result = warm_up(model.run_batch, _steady(), clock=model.now)
    # Windows of 4: [0.5 .. 0.02], [0.01 x4] differ; [0.01 x4], [0.01 x4] agree at batch 12.
    assert result.batches == 12
    assert result.settled is True
    assert result.service_s == pytest.approx(0.01)
    assert "steady, 12 batches of 4" in result.describe()


def test_steady_runs_at_least_min_batches() -> None:
    model = FakeModel([0.01])
    result = warm_up(model.run_batch, _steady(min_batches=20), clock=model.now)
    assert result.batches == 20  # settled from the second window on, but 20 is the floor


def test_steady_gives_up_at_max_batches_or_max_s() -> None:
    # Still 10% faster every window: never settles within 5%.
    drifting = [0.1 * 0.9 ** (i // 4) for i in range(400)]
    model = FakeModel(drifting)
    by_count = warm_up(model.run_batch, _steady(max_batches=40), clock=model.now)
    assert by_count.batches == 40
    assert by_count.settled is False
    assert "before the service time settled" in by_count.describe()
    model = FakeModel(drifting)
    by_time = warm_up(model.run_batch, _steady(max_s=1.0), clock=model.now)
    assert by_time.seconds >= 1.0
    assert by_time.batches < 100
    assert by_time.settled is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "warm"}, "warmup.mode='warm' is not one of steady, fixed"),
        ({"batches": -1}, "warmup.batches=-1"),
        ({"min_batches": 10, "max_batches": 5}, "warmup.max_batches=5 must be an integer"),
        ({"max_s": 0}, "warmup.max_s=0"),
        ({"window": 1}, "warmup.window=1"),
        ({"tolerance": 0}, "warmup.tolerance=0"),
    ],
)
def test_bad_warmup_settings_are_user_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        WarmupSettings(**kwargs)
