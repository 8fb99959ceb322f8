from __future__ import annotations

import numpy as np
import pytest

from green_ai.errors import UserError
from green_ai.inference import arrival_offsets


def test_constant_stream_is_an_absolute_schedule() -> None:
    t = arrival_offsets(frequency=32, requests=1000, arrivals="constant")
    # Offsets are i / f computed per request, not summed gaps: no rounding drift accumulates.
    assert t[0] == 0.0
    assert t[999] == 999 / 32
    assert np.all(np.diff(t) == pytest.approx(1 / 32))


def test_poisson_stream_has_the_asked_rate_and_repeats_with_its_seed() -> None:
    t = arrival_offsets(frequency=50, requests=20_000, arrivals="poisson", seed=3)
    gaps = np.diff(t)
    assert t[0] == 0.0
    assert np.all(gaps >= 0)
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.03)
    # Exponential gaps: standard deviation equals the mean (a constant stream has 0).
    assert gaps.std() == pytest.approx(1 / 50, rel=0.05)
    again = arrival_offsets(frequency=50, requests=20_000, arrivals="poisson", seed=3)
    other = arrival_offsets(frequency=50, requests=20_000, arrivals="poisson", seed=4)
    assert np.array_equal(t, again)
    assert not np.array_equal(t, other)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": 0, "requests": 10}, "frequency=0"),
        ({"frequency": -2.5, "requests": 10}, "frequency=-2.5"),
        ({"frequency": 16, "requests": 0}, "requests=0"),
        ({"frequency": 16, "requests": 10, "arrivals": "bursty"}, "arrivals='bursty'"),
    ],
)
def test_bad_streams_are_user_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        arrival_offsets(**kwargs)
