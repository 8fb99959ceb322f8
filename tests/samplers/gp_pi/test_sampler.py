"""GPPISampler: the acquisition against its closed form, seeding, data hygiene, and search."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import optuna
import pytest
import torch
from optuna.samplers import BaseSampler
from optuna.trial import Trial, TrialState
from pytest_mock import MockerFixture
from scipy.stats import norm

from green_ai.samplers import GPPISampler, probability_of_improvement
from green_ai.samplers._gp_pi import acqf, gp


def _fast(
    seed: int, n_startup_trials: int, independent_sampler: BaseSampler | None = None
) -> GPPISampler:
    # Few candidates and one local start keep each GP round quick.
    return GPPISampler(
        seed=seed,
        n_startup_trials=n_startup_trials,
        n_candidates=64,
        n_local_starts=1,
        independent_sampler=independent_sampler,
    )


def _objective(trial: Trial) -> float:
    x = trial.suggest_float("x", -2.0, 2.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    return -((x - 0.5) ** 2) - (math.log10(lr) + 3.0) ** 2


def test_pi_matches_closed_form_on_a_hand_made_posterior() -> None:
    mean = torch.tensor([0.2, -1.0, 1.5, 0.7], dtype=torch.float64)
    std = torch.tensor([0.5, 2.0, 0.1, 1e-3], dtype=torch.float64)
    best, xi = 0.6, 0.05
    got_max = probability_of_improvement(mean, std, best, xi, maximize=True)
    got_min = probability_of_improvement(mean, std, best, xi, maximize=False)
    m, s = mean.numpy(), std.numpy()
    np.testing.assert_allclose(got_max.numpy(), norm.cdf((m - best - xi) / s), rtol=1e-12)
    np.testing.assert_allclose(got_min.numpy(), norm.cdf((best - m - xi) / s), rtol=1e-12)
    # A larger margin can only lower the probability of improving on it.
    assert torch.all(probability_of_improvement(mean, std, best, 0.5) < got_max)


def test_pi_is_finite_where_the_posterior_is_certain() -> None:
    pi = probability_of_improvement(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), 0.5, 0.0)
    assert pi.tolist() == [1.0, 0.0]


def test_same_seed_gives_the_same_suggestions() -> None:
    def run(seed: int) -> list[dict[str, float]]:
        sampler = _fast(seed, 2)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(_objective, n_trials=5)
        return [t.params for t in study.trials]

    first = run(7)
    assert first == run(7)
    assert first != run(8)


def test_minimising_mirrors_maximising() -> None:
    # Eq. 3.2 is Eq. 3.1 applied to −f: the same seed must make the same choices.
    def run(direction: Literal["maximize", "minimize"]) -> list[dict[str, float]]:
        sign = 1.0 if direction == "maximize" else -1.0
        study = optuna.create_study(direction=direction, sampler=_fast(1, 2))
        study.optimize(lambda t: sign * _objective(t), n_trials=5)
        return [t.params for t in study.trials]

    np.testing.assert_allclose(
        [list(p.values()) for p in run("maximize")],
        [list(p.values()) for p in run("minimize")],
        rtol=1e-6,
    )


def test_failed_and_pruned_trials_are_left_out(mocker: MockerFixture) -> None:
    fit = mocker.spy(gp, "fit_gp")
    study = optuna.create_study(direction="maximize", sampler=_fast(0, 2))

    def objective(trial: Trial) -> float:
        value = _objective(trial)
        if trial.number == 1:
            raise optuna.TrialPruned()
        if trial.number == 3:
            raise RuntimeError("training diverged")
        return value

    study.optimize(objective, n_trials=6, catch=(RuntimeError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.PRUNED) == 1
    # Each GP fit sees exactly the completed trials before it.
    sizes = [call.args[0].shape[0] for call in fit.call_args_list]
    assert sizes == [2, 3]


def test_multi_objective_study_is_refused() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=GPPISampler(seed=0))
    with pytest.raises(ValueError, match="single objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)


def test_categoricals_go_to_the_independent_sampler(mocker: MockerFixture) -> None:
    independent = optuna.samplers.RandomSampler(seed=0)
    spy = mocker.spy(independent, "sample_independent")
    sampler = _fast(0, 2, independent_sampler=independent)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial: Trial) -> float:
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        return _objective(trial) + (0.1 if act == "relu" else 0.0)

    study.optimize(objective, n_trials=4)
    # Before any trial completes nothing is modelled; afterwards only "act" is drawn apart.
    names = {call.args[2] for call in spy.call_args_list if call.args[1].number >= 1}
    assert names == {"act"}
    assert all(t.params["act"] in ("relu", "tanh") for t in study.trials)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_startup_trials": -1},
        {"xi": -0.1},
        {"xi": math.nan},
        {"xi": []},
        {"xi": [0.1, -1.0]},
        {"n_candidates": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GPPISampler(**kwargs)  # type: ignore[arg-type]


def test_a_margin_schedule_cycles_with_the_completed_trials(mocker: MockerFixture) -> None:
    spy = mocker.spy(acqf, "improvement_z")
    sampler = GPPISampler(
        seed=0, n_startup_trials=2, xi=[0.5, 0.0, 0.1], n_candidates=16, n_local_starts=0
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=6)
    # GP rounds see 2, 3, 4, 5 completed trials: margins xi[2 % 3], xi[3 % 3], ...
    margins = [call.args[3] for call in spy.call_args_list]
    assert sorted(set(margins), key=margins.index) == [0.1, 0.5, 0.0]
    per_round = [margins[0]] + [b for a, b in zip(margins, margins[1:], strict=False) if a != b]
    assert per_round == [0.1, 0.5, 0.0, 0.1]


@pytest.mark.slow
def test_gets_closer_than_random_search_on_a_smooth_function() -> None:
    # A smooth 3-D bowl with its optimum (value 0) inside the box, one axis on a log scale.
    def objective(trial: Trial) -> float:
        x = trial.suggest_float("x", -1.0, 1.0)
        y = trial.suggest_float("y", -1.0, 1.0)
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        return (x - 0.3) ** 2 + (y + 0.4) ** 2 + 0.1 * (math.log10(lr) + 3.5) ** 2

    # 5 random rounds, then 15 GP rounds: every margin of the default schedule gets its turns.
    budget, regrets = 20, {"gp_pi": list[float](), "random": list[float]()}
    for seed in range(3):
        samplers = {
            "gp_pi": _fast(seed, 5),
            "random": optuna.samplers.RandomSampler(seed=seed),
        }
        for name, sampler in samplers.items():
            study = optuna.create_study(sampler=sampler)
            study.optimize(objective, n_trials=budget)
            regrets[name].append(study.best_value)
    # The GP must win on every seed, and halve random search's median distance to the optimum.
    assert all(g < r for g, r in zip(regrets["gp_pi"], regrets["random"], strict=True))
    assert np.median(regrets["gp_pi"]) < 0.5 * np.median(regrets["random"])
