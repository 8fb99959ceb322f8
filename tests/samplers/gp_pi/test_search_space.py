"""The GP's view of a search space: padded integers, round trips, snapping, uniform draws."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from green_ai.samplers._gp_pi.search_space import MAX_EXHAUSTIVE, SearchSpace, is_modelled

SPACE: dict[str, BaseDistribution] = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "beta1": FloatDistribution(0.5, 0.99),
    "layers": IntDistribution(1, 4),
    "width": IntDistribution(8, 512, log=True),
    "q": FloatDistribution(-1.0, 1.0, step=0.25),
    "act": CategoricalDistribution(["relu", None, 3]),
}


def test_integers_are_padded_half_a_step_at_each_end() -> None:
    space = SearchSpace({"k": IntDistribution(0, 2)})
    # Each of the three values owns a third of [0, 1]; its point is the middle of that third.
    points = [space.encode({"k": k})[0] for k in (0, 1, 2)]
    np.testing.assert_allclose(points, [1 / 6, 1 / 2, 5 / 6])
    assert [space.decode(np.array([u]))["k"] for u in (0.0, 0.33, 0.34, 0.66, 0.67, 1.0)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]


def test_uniform_draws_give_every_integer_and_choice_the_same_share() -> None:
    space = SearchSpace({"k": IntDistribution(0, 2), "c": CategoricalDistribution("abcd")})
    draws = [space.decode(x) for x in space.sample(6000, np.random.default_rng(0))]
    ks = collections.Counter(d["k"] for d in draws)
    cs = collections.Counter(d["c"] for d in draws)
    assert all(abs(n / 6000 - 1 / 3) < 0.02 for n in ks.values())
    assert all(abs(n / 6000 - 1 / 4) < 0.02 for n in cs.values())


def test_round_trip_keeps_values_and_types() -> None:
    space = SearchSpace(SPACE)
    params = {"lr": 3e-4, "beta1": 0.9, "layers": 4, "width": 64, "q": -0.75, "act": None}
    back = space.decode(space.encode(params))
    assert back["lr"] == pytest.approx(3e-4) and back["beta1"] == pytest.approx(0.9)
    assert {k: back[k] for k in ("layers", "width", "q", "act")} == {
        "layers": 4,
        "width": 64,
        "q": -0.75,
        "act": None,
    }
    assert type(back["layers"]) is int and type(back["q"]) is float and type(back["lr"]) is float


def test_every_point_decodes_inside_the_distributions() -> None:
    space = SearchSpace(SPACE)
    for x in np.random.default_rng(1).uniform(-0.2, 1.2, size=(200, space.dim)):
        for name, value in space.decode(x).items():
            assert SPACE[name]._contains(SPACE[name].to_internal_repr(value)), (name, value)


def test_snap_lands_exactly_on_the_values_tried_one_by_one() -> None:
    space = SearchSpace(SPACE)
    snapped = space.snap(np.random.default_rng(2).uniform(size=(100, space.dim)))
    for i, values in space.exhaustive.items():
        assert set(snapped[:, i]) <= set(values)
    # Small discrete ranges and categories are tried value by value; the others move freely.
    names = [space.names[i] for i in space.exhaustive]
    assert names == ["layers", "q", "act"]
    assert len(space.exhaustive[space.names.index("q")]) == 9 <= MAX_EXHAUSTIVE


def test_fixed_values_are_not_modelled() -> None:
    assert not is_modelled(FloatDistribution(2.0, 2.0))
    assert not is_modelled(CategoricalDistribution(["only"]))
    assert is_modelled(IntDistribution(1, 2))
