"""Grid search: both bounds on the grid, only grid values visited, the grid's size, seeding."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from green_ai.errors import UserError
from green_ai.samplers import GridSearchSampler, grid_size, grid_values
from green_ai.samplers.factories import grid_sampler

SPACE: dict[str, BaseDistribution] = {
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "beta1": FloatDistribution(0.5, 0.99),
    "beta2": FloatDistribution(0.9, 0.9999),
}


def _suggest_all(trial: optuna.Trial, space: dict[str, BaseDistribution]) -> float:
    # What the study loop does: one suggest per parameter of the space.
    values = []
    for name, dist in space.items():
        assert isinstance(dist, FloatDistribution)
        values.append(trial.suggest_float(name, dist.low, dist.high, log=dist.log))
    return float(sum(values))


def test_values_hold_both_bounds_evenly_spaced() -> None:
    values = grid_values(SPACE, 5)
    for name, dist in SPACE.items():
        assert isinstance(dist, FloatDistribution)
        v = np.array(values[name])
        assert len(v) == 5
        assert v[0] == dist.low and v[-1] == dist.high
        steps = np.diff(np.log(v)) if dist.log else np.diff(v)
        np.testing.assert_allclose(steps, steps[0], rtol=1e-8)
    assert values["lr"] == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def test_integer_stepped_and_categorical_parameters() -> None:
    values = grid_values(
        {
            "n": IntDistribution(1, 3),
            "q": FloatDistribution(0.0, 1.0, step=0.25),
            "act": CategoricalDistribution(["relu", "tanh"]),
            "fixed": FloatDistribution(2.0, 2.0),
        },
        5,
    )
    assert values == {
        "n": [1, 2, 3],
        "q": [0.0, 0.25, 0.5, 0.75, 1.0],
        "act": ["relu", "tanh"],
        "fixed": [2.0],
    }


def test_size_is_the_product_of_the_values() -> None:
    assert grid_size(SPACE, 5) == 125
    assert grid_size(SPACE, 3) == 27
    assert grid_size({**SPACE, "eps": FloatDistribution(1e-10, 1e-6, log=True)}, 5) == 625


@pytest.mark.parametrize("points", [0, 1, 2.5, True])
def test_too_few_points_is_a_user_error(points: int) -> None:
    with pytest.raises(UserError, match="grid_points"):
        grid_values(SPACE, points)


def test_linear_spacing_is_the_thesis_grid() -> None:
    # §3.3.3: five uniformly-distributed values per continuous range, both bounds included,
    # log-scaled parameters too.
    values = grid_values(SPACE, 5, spacing="linear")
    np.testing.assert_allclose(values["lr"], [1e-5, 0.0250075, 0.050005, 0.0750025, 0.1])
    for name, dist in SPACE.items():
        assert isinstance(dist, FloatDistribution)
        np.testing.assert_allclose(values[name], np.linspace(dist.low, dist.high, 5))
        assert values[name][0] == dist.low and values[name][-1] == dist.high
    # Linear parameters are spaced alike either way.
    assert values["beta1"] == grid_values(SPACE, 5, spacing="log")["beta1"]


def test_unknown_spacing_is_a_user_error() -> None:
    with pytest.raises(UserError, match="search.sampler.spacing='lin'.*log, linear"):
        grid_values(SPACE, 5, spacing="lin")  # type: ignore[arg-type]


def test_the_factory_passes_the_spacing() -> None:
    space = {"lr": SPACE["lr"]}
    study = optuna.create_study(sampler=grid_sampler(space=space, seed=0, spacing="linear"))
    study.optimize(lambda t: _suggest_all(t, space), n_trials=5)
    assert sorted(t.params["lr"] for t in study.trials) == grid_values(space, 5, "linear")["lr"]


def test_study_visits_only_grid_values_each_point_once_and_ends_with_the_grid() -> None:
    space = dict(itertools.islice(SPACE.items(), 2))
    study = optuna.create_study(sampler=grid_sampler(space=space, seed=0, grid_points=3))
    study.optimize(lambda t: _suggest_all(t, space), n_trials=20)
    # Optuna's GridSampler stops the study by itself once the 9 points are done.
    assert len(study.trials) == grid_size(space, 3) == 9
    points = {tuple(t.params[n] for n in space) for t in study.trials}
    assert points == set(itertools.product(*grid_values(space, 3).values()))


def test_ask_and_tell_runs_to_the_end_of_the_grid() -> None:
    space = {"beta1": SPACE["beta1"]}
    study = optuna.create_study(sampler=grid_sampler(space=space, seed=0, grid_points=3))
    sampler = study.sampler
    assert isinstance(sampler, GridSearchSampler)
    for _ in range(3):
        trial = study.ask()
        study.tell(trial, _suggest_all(trial, space))  # the last tell must not raise
    assert sampler.is_exhausted(study)
    assert sorted(t.params["beta1"] for t in study.trials) == [0.5, 0.745, 0.99]


def test_seed_sets_the_order() -> None:
    def order(seed: int) -> list[tuple[float, ...]]:
        study = optuna.create_study(sampler=grid_sampler(space=SPACE, seed=seed))
        study.optimize(lambda t: _suggest_all(t, SPACE), n_trials=10)
        return [tuple(t.params.values()) for t in study.trials]

    assert order(1) == order(1)
    assert order(1) != order(2)
