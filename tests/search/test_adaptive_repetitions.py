"""repetitions=auto: a round trains until its energy interval is narrow enough; every round
with two or more repetitions logs that interval (thesis §3.7.1: noise "drowned out")."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import mlflow
import numpy as np
import optuna
import pytest
import torch
from mlflow import MlflowClient
from omegaconf import DictConfig

from green_ai.energy import MEASURED, Backend, EnergyMeter, Reading
from green_ai.search import study as study_module
from green_ai.search.naming import study_name
from green_ai.stats.intervals import mean_interval
from green_ai.train import train

Make = Callable[..., DictConfig]
AUTO = ["energy=estimate", "repetitions=auto", "rounds=1"]


class ScriptedCounter(Backend):
    """An energy counter that rises by the next of `steps` joules at each reading: a
    repetition's joules are the sum of the steps read inside its window."""

    name = "scripted"
    kind = MEASURED

    def __init__(self, steps: Iterator[float]) -> None:
        self.steps = steps
        self.total = 0.0
        self.device_names = ["scripted"]

    def read(self) -> Reading:
        self.total += next(self.steps)
        return Reading(energy_j={"scripted": self.total})


def _use_counter(monkeypatch: pytest.MonkeyPatch, steps: Iterator[float]) -> None:
    def meter(settings: object, device: torch.device) -> EnergyMeter:
        return EnergyMeter([ScriptedCounter(steps)], device, idle_s=0.0, threaded=False)

    monkeypatch.setattr(study_module, "build_meter", meter)


def _constant(joules: float) -> Iterator[float]:
    while True:
        yield joules


def _noisy(mean: float, sd: float, seed: int = 0) -> Iterator[float]:
    rng = np.random.default_rng(seed)
    while True:
        yield float(abs(rng.normal(mean, sd)))


def _round_runs(cfg: DictConfig) -> list[mlflow.entities.Run]:
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=100)
    return [r for r in runs if r.data.tags["green_ai.kind"] == "train_round"]


def _rep_joules(run: mlflow.entities.Run) -> list[float]:
    history = MlflowClient().get_metric_history(run.info.run_id, "rep_energy_j")
    return [m.value for m in sorted(history, key=lambda m: m.step)]


def test_a_quiet_round_stops_at_the_minimum(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_counter(monkeypatch, _constant(10.0))
    cfg = make_cfg(*AUTO, "design.target_ci=0.05", "design.min_repetitions=3")
    train(cfg)
    (run,) = _round_runs(cfg)
    metrics = run.data.metrics
    assert metrics["repetitions_run"] == 3 and len(_rep_joules(run)) == 3
    assert metrics["rep_energy_ci_rel"] == 0.0
    assert metrics["rep_energy_j_ci_low"] == metrics["rep_energy_j_ci_high"]


def test_a_noisy_round_runs_to_the_maximum(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _use_counter(monkeypatch, _noisy(10.0, 5.0))
    cfg = make_cfg(
        *AUTO,
        "design.target_ci=0.001",
        "design.min_repetitions=2",
        "design.max_repetitions=4",
        "progress=log",
    )
    train(cfg)
    (run,) = _round_runs(cfg)
    assert run.data.metrics["repetitions_run"] == 4
    assert run.data.metrics["rep_energy_ci_rel"] > 0.001
    # The round's line says how many ran and the width they reached.
    width = run.data.metrics["rep_energy_ci_rel"]
    (line,) = [r.getMessage() for r in caplog.records if "round 0:" in r.getMessage()]
    assert line.endswith(f"[4 repetitions, ±{width:.1%}]")


def test_a_round_stops_once_its_interval_is_narrow_enough(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_counter(monkeypatch, _noisy(10.0, 1.5, seed=3))
    target = 0.08
    cfg = make_cfg(
        *AUTO,
        f"design.target_ci={target}",
        "design.min_repetitions=2",
        "design.max_repetitions=40",
        "design.confidence=0.9",
    )
    train(cfg)
    (run,) = _round_runs(cfg)
    joules = _rep_joules(run)
    metrics = run.data.metrics
    assert 2 <= len(joules) < 40 and metrics["repetitions_run"] == len(joules)
    reached = mean_interval(joules, 0.9)
    before = mean_interval(joules[:-1], 0.9)
    assert reached is not None and reached.rel_half_width <= target
    # It stopped at the first repetition that got there, not later.
    assert before is None or len(joules) == 2 or before.rel_half_width > target
    assert metrics["rep_energy_ci_rel"] == pytest.approx(reached.rel_half_width)
    assert metrics["rep_energy_j_ci_low"] == pytest.approx(reached.low)
    assert metrics["rep_energy_j_ci_high"] == pytest.approx(reached.high)


def test_the_energy_objective_is_the_mean_per_repetition(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_counter(monkeypatch, _noisy(10.0, 3.0, seed=1))
    cfg = make_cfg(
        *AUTO,
        "search.objectives=[accuracy,energy]",
        "design.target_ci=0.001",
        "design.min_repetitions=2",
        "design.max_repetitions=3",
    )
    outcome = train(cfg)
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    (run,) = _round_runs(cfg)
    joules = _rep_joules(run)
    assert study.trials[0].values[1] == pytest.approx(sum(joules) / len(joules))
    assert study.trials[0].values[1] < run.data.metrics["energy_j"] / 2


def test_fixed_repetitions_log_their_interval_and_one_logs_none(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_counter(monkeypatch, _noisy(10.0, 2.0))
    cfg = make_cfg("energy=estimate", "rounds=1", "repetitions=3")
    train(cfg)
    (run,) = _round_runs(cfg)
    reached = mean_interval(_rep_joules(run), 0.95)
    assert reached is not None
    assert run.data.metrics["rep_energy_j_ci_low"] == pytest.approx(reached.low)
    assert run.data.metrics["repetitions_run"] == 3
    one = make_cfg("energy=estimate", "rounds=1", "repetitions=1", "tracking.experiment=one")
    train(one)
    (single,) = _round_runs(one)
    assert not any("_ci_" in key for key in single.data.metrics)


def test_study_names_hold_the_adaptive_settings_only_when_adaptive(make_cfg: Make) -> None:
    fixed = study_name(make_cfg("energy=estimate"))
    assert study_name(make_cfg("energy=estimate", "design.target_ci=0.05")) == fixed
    auto = study_name(make_cfg("energy=estimate", "repetitions=auto", "design.target_ci=0.05"))
    other = study_name(make_cfg("energy=estimate", "repetitions=auto", "design.target_ci=0.02"))
    assert len({fixed, auto, other}) == 3


def test_the_energy_budget_counts_the_mean_per_repetition(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_counter(monkeypatch, _constant(10.0))
    budget = 45.0
    cfg = make_cfg(*AUTO, "rounds=5", "design.target_ci=0.05", f"search.energy_budget_j={budget}")
    outcome = train(cfg)
    runs = _round_runs(cfg)
    per_rep = _rep_joules(runs[0])[0]
    # Each round spends min_repetitions x per_rep (and more) joules, over the budget alone;
    # counted per repetition the budget lasts two rounds.
    assert per_rep < budget <= 2 * per_rep < 3 * per_rep
    assert outcome.rounds_completed == 2
    assert outcome.stop_reason is not None and "energy budget reached" in outcome.stop_reason
