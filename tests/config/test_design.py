"""`design.*`: the defaults keep the thesis's design; each wrong value is one line."""

from __future__ import annotations

import pytest

from green_ai.config.design import DesignConfig
from green_ai.errors import UserError


def test_defaults_are_the_thesis_design() -> None:
    d = DesignConfig()
    assert (d.order, d.settle_max_s, d.target_ci) == ("sequential", 0.0, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "foo"}, "design.order='foo' is not one of sequential, interleaved"),
        ({"confidence": 1.5}, "design.confidence=1.5 must be a number between 0 and 1"),
        ({"confidence": 0}, "design.confidence=0 must be"),
        ({"target_ci": 2.0}, "design.target_ci=2.0 is a fraction of the mean"),
        ({"target_ci": -0.1}, "design.target_ci=-0.1 must be a number > 0"),
        ({"min_repetitions": 1}, "design.min_repetitions=1 must be an integer of at least 2"),
        ({"min_repetitions": 6, "max_repetitions": 5}, "design.min_repetitions=6 is above"),
        ({"settle_max_s": -1}, "design.settle_max_s=-1 must be a number >= 0"),
    ],
)
def test_wrong_values_are_one_line(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=None) as err:
        DesignConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)
