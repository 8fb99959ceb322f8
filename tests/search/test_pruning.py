"""Pruning (issue 14): Optuna's pruners by name, and a pruned round recorded as PRUNED with the
epoch it stopped at and the joules it spent, counted toward `rounds` and the study's energy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig

from green_ai.analysis.load import load_experiment
from green_ai.config.store import train_settings
from green_ai.errors import UserError
from green_ai.search import check_feasible
from green_ai.search import study as study_module
from green_ai.search.pruning import build_pruner
from green_ai.train import train

Make = Callable[..., DictConfig]
ESTIMATE = ["energy=estimate", "energy.idle_s=0"]


class PruneOddRoundsAtStep1(optuna.pruners.BasePruner):
    """Prunes every odd-numbered trial once it has reported step 1 (the second epoch)."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number % 2 == 1 and trial.last_step == 1


def runs_of(cfg: DictConfig) -> tuple[list, dict[str, object]]:
    mlflow.set_tracking_uri(cfg.tracking.uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags["green_ai.kind"] == "train_study"]
    rounds = {
        r.data.tags["round"]: r for r in runs if r.data.tags["green_ai.kind"] == "train_round"
    }
    return parents, rounds


def test_a_pruned_round_is_recorded_counted_and_its_joules_kept(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        study_module, "build_pruner", lambda search, epochs: PruneOddRoundsAtStep1()
    )
    cfg = make_cfg(*ESTIMATE, "search.pruner=median", "epochs=3", "rounds=3", "repetitions=2")
    outcome = train(cfg)

    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    states = [t.state for t in study.trials]
    P, C = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE
    assert states == [C, P, C]  # the pruned round counts: three rounds, no fourth
    assert outcome.rounds_completed == 3
    pruned, complete = study.trials[1], study.trials[0]
    # Only the first repetition reports, one value per epoch (step = 0-based epoch).
    assert sorted(complete.intermediate_values) == [0, 1, 2]
    assert sorted(pruned.intermediate_values) == [0, 1]
    assert pruned.value == pruned.intermediate_values[1]  # Optuna keeps the last one
    assert pruned.user_attrs["pruned_epoch"] == 1
    assert pruned.user_attrs["energy_j"] > 0 and pruned.user_attrs["duration_s"] > 0

    parents, rounds = runs_of(cfg)
    run = rounds["1"]
    assert run.data.tags["state"] == "PRUNED" and run.info.status == "FINISHED"
    assert run.data.metrics["pruned_epoch"] == 1
    assert run.data.metrics["energy_j"] == pytest.approx(pruned.user_attrs["energy_j"])
    assert "accuracy" not in run.data.metrics  # a stopped round's accuracy is no result
    client = MlflowClient()
    # It stopped after two epochs of its first repetition: no second repetition was trained.
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "test_accuracy"))
    assert steps == [0, 1]
    assert client.get_metric_history(run.info.run_id, "rep_accuracy") == []
    assert len(client.get_metric_history(rounds["0"].info.run_id, "test_accuracy")) == 6

    parent = parents[0]
    assert parent.data.params["pruner"] == "median"
    spent = sum(r.data.metrics["energy_j"] for r in rounds.values())
    assert parent.data.metrics["energy_j"] == pytest.approx(spent)
    assert outcome.energy_j == pytest.approx(spent)
    assert outcome.best_accuracy == max(study.trials[i].value for i in (0, 2))

    # The report reads the same contract: a PRUNED round with its epoch and joules.
    loaded = load_experiment(cfg.tracking.uri, cfg.tracking.experiment).rounds
    row = loaded[loaded["round"] == 1].iloc[0]
    assert row["state"] == "PRUNED" and row["pruned_epoch"] == 1 and row["energy_j"] > 0


def test_pruners_by_name_with_their_options(make_cfg: Make) -> None:
    def built(*overrides: str) -> optuna.pruners.BasePruner:
        s = train_settings(make_cfg(*overrides))
        return build_pruner(s.search, epochs=s.epochs)

    assert isinstance(built(), optuna.pruners.NopPruner)
    median = built("search.pruner=median", "+search.pruner_options.n_startup_trials=2")
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert median._n_startup_trials == 2
    halving = built("search.pruner=successive_halving")
    assert isinstance(halving, optuna.pruners.SuccessiveHalvingPruner)
    hyperband = built("search.pruner=hyperband", "epochs=7")
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert hyperband._max_resource == 7  # a whole repetition, known before any round ends


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["search.pruner=early"], "search.pruner='early' is not one of none, median"),
        (
            ["search.pruner=median", "+search.pruner_options.patience=2"],
            "search.pruner_options.patience is not an option of optuna.pruners.MedianPruner",
        ),
        (
            ["search.pruner=median", "+search.pruner_options.n_startup_trials=-1"],
            "cannot be negative",
        ),
        (["+search.pruner_options.n_startup_trials=2"], "but search.pruner=none"),
        (
            ["search.pruner=median", "search.objectives=[accuracy,energy]", *ESTIMATE],
            "search.pruner=median needs one objective .*use search.pruner=pareto$",
        ),
        (
            ["search.pruner=pareto"],
            "search.pruner=pareto prunes accuracy-and-energy studies; for "
            "search.objectives=[accuracy] use search.pruner=median, successive_halving or "
            "hyperband",
        ),
        (
            [
                "search.pruner=pareto",
                "search.objectives=[accuracy,val_loss]",
                "search.directions=[maximize,minimize]",
            ],
            "search.pruner=pareto needs search.objectives=[<metric>,energy]",
        ),
        (
            [
                "search.pruner=pareto",
                "search.objectives=[accuracy,energy]",
                "search.directions=[maximize,maximize]",
                *ESTIMATE,
            ],
            "energy needs search.directions[1]=minimize",
        ),
        (
            ["search.pruner=pareto", "search.objectives=[accuracy,energy]", *ESTIMATE]
            + ["+search.pruner_options.patience=2"],
            "search.pruner_options.patience is not an option of "
            "green_ai.search.pareto_pruning.ParetoPruner; its options: n_startup_trials",
        ),
        (
            ["search.pruner=pareto", "search.objectives=[accuracy,energy]", *ESTIMATE]
            + ["+search.pruner_options.margin=-0.1"],
            "margin must be a number of 0 or more",
        ),
        (["search.pruner=hyperband", "eval_every_epoch=false"], "use eval_every_epoch=true"),
    ],
)
def test_wrong_pruner_settings_fail_on_one_line(
    make_cfg: Make, overrides: list[str], message: str
) -> None:
    # Settings are checked when composed, the pruner's options before anything runs.
    with pytest.raises(UserError, match=message.replace("[", r"\[")) as err:
        check_feasible(train_settings(make_cfg(*overrides)))
    assert "\n" not in str(err.value)


def test_a_study_without_pruner_keeps_its_name(make_cfg: Make) -> None:
    from green_ai.search import study_name

    base = study_name(make_cfg())
    assert study_name(make_cfg("search.pruner=none")) == base
    assert study_name(make_cfg("verbose=true")) == base
    assert study_name(make_cfg("search.pruner=median")) != base
