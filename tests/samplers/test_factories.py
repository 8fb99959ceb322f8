"""The search configs: each builds its sampler through Hydra, with the config's seed."""

from __future__ import annotations

from pathlib import Path

import hydra
import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import BaseDistribution, FloatDistribution

from green_ai.errors import UserError
from green_ai.samplers import GPPISampler
from green_ai.samplers.factories import gp_pi_sampler

CONF = Path(__file__).resolve().parents[2] / "conf"
EXPECTED = {
    "random": optuna.samplers.RandomSampler,
    "grid": optuna.samplers.GridSampler,
    "gp_pi": GPPISampler,
    "tpe": optuna.samplers.TPESampler,
    "gp": optuna.samplers.GPSampler,
}


def _space(hparams: str) -> dict[str, BaseDistribution]:
    params = OmegaConf.load(CONF / "hparams" / f"{hparams}.yaml").params
    return {n: FloatDistribution(p.low, p.high, log=p.log) for n, p in params.items()}


@pytest.mark.parametrize("hparams", ["adam3", "adam5"])
def test_search_spaces(hparams: str) -> None:
    space = _space(hparams)
    names = ["lr", "beta1", "beta2"] + (["eps", "weight_decay"] if hparams == "adam5" else [])
    assert list(space) == names
    for name, dist in space.items():
        assert isinstance(dist, FloatDistribution)
        assert dist.low < dist.high
        # The scales the SPEC asks for: α, ε and w are searched on a log scale.
        assert dist.log == (name in ("lr", "eps", "weight_decay"))
    # Adam's defaults lie inside the space.
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-4}
    assert all(space[n]._contains(defaults[n]) for n in space)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_config_builds_its_sampler(name: str) -> None:
    cfg = OmegaConf.load(CONF / "search" / f"{name}.yaml")
    assert cfg.name == name
    assert "sampler" in cfg  # energy_budget_j and objectives default in SearchConfig
    sampler = hydra.utils.instantiate(cfg.sampler)(space=_space("adam3"), seed=3)
    assert isinstance(sampler, EXPECTED[name])
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: t.suggest_float("lr", 1e-5, 1e-1, log=True), n_trials=2)
    assert len(study.trials) == 2


@pytest.mark.parametrize("name", ["random", "grid", "tpe", "gp"])
def test_multi_objective_capable_strategies(name: str) -> None:
    cfg = OmegaConf.load(CONF / "search" / f"{name}.yaml")
    space = _space("adam3")
    sampler = hydra.utils.instantiate(cfg.sampler)(space=space, seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_float("beta1", 0.5, 0.99)
        trial.suggest_float("beta2", 0.9, 0.9999)
        return lr, lr**2

    study.optimize(objective, n_trials=3)
    assert len(study.best_trials) >= 1


def test_gp_pi_config_reaches_the_sampler() -> None:
    cfg = OmegaConf.load(CONF / "search" / "gp_pi.yaml")
    assert list(cfg.sampler.xi) == [1.0, 0.1, 0.01, 0.0]  # the schedule, as a ListConfig
    sampler = hydra.utils.instantiate(cfg.sampler)(space={}, seed=0)
    assert isinstance(sampler, GPPISampler)
    assert sampler._xis == [1.0, 0.1, 0.01, 0.0]
    cfg.sampler.xi = 0.25
    assert hydra.utils.instantiate(cfg.sampler)(space={}, seed=0)._xis == [0.25]


def test_grid_config_states_its_spacing() -> None:
    cfg = OmegaConf.load(CONF / "search" / "grid.yaml")
    assert cfg.sampler.spacing == "log"
    preset = (CONF / "experiment" / "hpo_strategies.yaml").read_text()
    assert "search.sampler.spacing=linear" in preset


def test_bad_gp_pi_setting_is_a_user_error() -> None:
    with pytest.raises(UserError, match="search.sampler"):
        gp_pi_sampler(space={}, seed=0, xi=-1.0)
