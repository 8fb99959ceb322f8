"""The search section follows the metric each study optimised and its direction: best-so-far,
rounds to best, energy to target and pruning for a minimised `val_loss` beside accuracy
studies, on small frames and end to end on the fake store's OBJECTIVE_EXPERIMENT."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from green_ai.analysis import search_tables as tables
from green_ai.analysis import stats
from green_ai.analysis.runs import INFERENCE_COLUMNS, REP_COLUMNS, ROUND_COLUMNS, Runs
from green_ai.analysis.writer import write_report
from green_ai.config.report import ReportConfig
from green_ai.errors import UserError
from green_ai.report import run_report

from . import fake_store
from .test_report import report_cfg

NAN = float("nan")
LOSS = tables.Objective("val_loss", "minimize", "_val_loss")


# --- statistics in either direction ------------------------------------------------------------


def test_best_so_far_is_a_running_minimum_when_minimised() -> None:
    out = stats.best_so_far([NAN, 0.9, NAN, 1.2, 0.5, 0.7], maximize=False)
    assert math.isnan(out[0])
    assert list(out[1:]) == pytest.approx([0.9, 0.9, 0.9, 0.5, 0.5])
    assert stats.best_value([0.9, NAN, 0.5], maximize=False) == 0.5
    assert math.isnan(stats.best_value([NAN], maximize=False))


def test_first_reached_at_most_the_target_when_minimised() -> None:
    assert stats.first_reached([0.9, NAN, 0.6, 0.5], 0.6, maximize=False) == 2
    assert stats.first_reached([0.9, NAN], 0.6, maximize=False) is None


@pytest.mark.parametrize(
    ("best", "maximize", "target"),
    [
        (0.8, True, 0.792),  # an accuracy: 1% below
        (-2.0, True, -2.02),  # a negative score: 1% of |best| below
        (0.5, False, 0.505),  # a loss: 1% above
        (-4.0, False, -3.96),  # a negative log-likelihood: 1% of |best| above
    ],
)
def test_target_is_pct_of_the_best_worse_in_its_direction(
    best: float, maximize: bool, target: float
) -> None:
    assert stats.target_value(best, 1.0, maximize=maximize) == pytest.approx(target)


def test_accuracy_target_is_computed_as_before() -> None:
    # Byte-for-byte the thesis's tables: best · (1 − pct/100), not best − best · pct/100.
    assert stats.target_value(0.71, 1.0) == 0.71 * (1.0 - 1.0 / 100.0)


def test_energy_to_target_of_a_loss() -> None:
    # Best 0.45, target 0.4545: first met by the 4th value (0.454), 10 + 20 + 5 + 1 J.
    idx, target, spent = stats.energy_to_target(
        [0.9, 0.5, NAN, 0.454, 0.45], [10.0, 20.0, 5.0, 1.0, 2.0], 1.0, maximize=False
    )
    assert (idx, spent) == (3, pytest.approx(36.0))
    assert target == pytest.approx(0.4545)


# --- studies and their objectives ----------------------------------------------------------------


def study(name: str, **kw: object) -> dict[str, object]:
    base = {"study_name": name, "net": "densepoly", "conv": 0, "linear": 3, "relu": 1}
    base |= {"dataset": "synthetic", "search": "random", "hparams": "adam3", "pruner": "none"}
    return base | {"seed": 0, "energy_metric": "energy_net_j"} | kw


def test_studies_without_objective_optimised_accuracy() -> None:
    studies = pd.DataFrame(
        [
            study("old"),
            study("loss", objective="val_loss", direction="minimize"),
            study("acc", objective="accuracy", direction=NAN),
        ]
    )
    out = tables.with_objectives(studies).set_index("study_name")
    assert out.loc["old", ["objective", "direction"]].tolist() == ["accuracy", "maximize"]
    assert out.loc["loss", ["objective", "direction"]].tolist() == ["val_loss", "minimize"]
    assert out.loc["acc", "direction"] == "maximize"  # accuracy's own direction
    bare = tables.with_objectives(pd.DataFrame([study("csv")]))
    assert bare[["objective", "direction"]].iloc[0].tolist() == ["accuracy", "maximize"]


@pytest.mark.parametrize(
    ("direction", "shown"), [(NAN, "no param direction"), ("down", "direction='down'")]
)
def test_unknown_direction_is_one_clear_error(direction: object, shown: str) -> None:
    studies = pd.DataFrame([study("loss", objective="val_loss", direction=direction)])
    with pytest.raises(
        UserError, match=f"'loss' optimised val_loss but its parent run has {shown}"
    ):
        tables.with_objectives(studies)


def test_a_study_without_direction_stops_before_the_report_is_written(tmp_path: Path) -> None:
    studies = pd.DataFrame([study("loss", objective="val_loss")]).drop(columns="energy_metric")
    runs = Runs(
        "test",
        studies,
        loss_rounds().drop(columns="energy").reindex(columns=ROUND_COLUMNS),
        pd.DataFrame(columns=INFERENCE_COLUMNS),
        rep_metrics=lambda ids: pd.DataFrame(columns=REP_COLUMNS),
    )
    with pytest.raises(UserError, match="'loss' optimised val_loss but its parent run has no"):
        write_report(runs, ReportConfig(), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_groups_put_the_thesis_first_and_name_every_other_objective() -> None:
    studies = pd.DataFrame(
        [
            study("loss", objective="val_loss", direction="minimize"),
            study("old"),
            study("score-max", objective="score", direction="maximize"),
            study("score-min", objective="score", direction="minimize"),
            study("loss2", objective="val_loss", direction="minimize"),
        ]
    )
    groups = tables.objective_groups(studies)
    named = [(o.name, o.direction, o.suffix, list(g["study_name"])) for o, g in groups]
    assert named == [
        ("accuracy", "maximize", "", ["old"]),
        ("score", "maximize", "_score_maximize", ["score-max"]),
        ("score", "minimize", "_score_minimize", ["score-min"]),
        ("val_loss", "minimize", "_val_loss", ["loss", "loss2"]),
    ]
    assert groups[0][0].is_thesis and not groups[3][0].is_thesis
    assert groups[3][0].label == "`val_loss` (minimised)"


def loss_rounds() -> pd.DataFrame:
    # A loss study's rounds log an accuracy too; its best accuracy (round 0) is not its best.
    rows = [
        ("loss", 0, "COMPLETE", 0.9, 0.9, 10.0),
        ("loss", 1, "FAIL", NAN, NAN, 4.0),
        ("loss", 2, "COMPLETE", 0.5, 0.6, 10.0),
        ("loss", 3, "PRUNED", 0.1, 0.1, 1.0),  # stopped early: its loss is no result
        ("loss", 4, "COMPLETE", 0.45, 0.5, 10.0),
    ]
    columns = ["study_name", "round", "state", "val_loss", "accuracy", "energy"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(run_id=frame["study_name"] + frame["round"].astype(str))


def test_curves_and_best_table_follow_a_minimised_loss() -> None:
    studies = pd.DataFrame([study("loss", objective="val_loss", direction="minimize")])
    curves = tables.search_curves(loss_rounds(), studies)
    assert list(curves["best_so_far"]) == [0.9, 0.5, 0.5, 0.45]
    assert list(curves["accuracy"].dropna()) == [0.9, 0.6, 0.5]  # kept beside the loss
    best = tables.best_accuracy_table(curves, studies, LOSS)
    assert "best_accuracy" not in best.columns
    row = best.iloc[0]
    assert (row["rounds"], row["best_val_loss"], row["rounds_to_best"]) == (4, 0.45, 4)
    assert row["energy_j"] == 35.0
    target = tables.energy_to_target_table(curves, studies, 20.0, LOSS).iloc[0]
    # 20% above 0.45 is 0.54: met by the 3rd round (0.5), after 10 + 4 + 10 J.
    assert target["target_val_loss"] == pytest.approx(0.54)
    assert (target["rounds_to_target"], target["energy_to_target_j"]) == (2, 24.0)


def test_a_loss_no_round_logged_has_no_curve_value() -> None:
    studies = pd.DataFrame([study("loss", objective="val_loss", direction="minimize")])
    rounds = loss_rounds().drop(columns="val_loss")
    curves = tables.search_curves(rounds, studies)
    assert curves["value"].isna().all() and curves["best_so_far"].isna().all()
    assert tables.best_accuracy_table(curves, studies, LOSS).empty


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path_factory.mktemp('objective') / 'mlflow.db'}"
    fake_store.build_objective(uri)
    out_dir = tmp_path_factory.mktemp("report")
    run_report(report_cfg(uri, fake_store.OBJECTIVE_EXPERIMENT, out_dir))
    yield out_dir
    mlflow.set_tracking_uri(previous)


def loss_studies() -> Iterator[tuple[str, str, list[float | None], list[float]]]:
    for (search, pruner), (losses, energies) in fake_store.LOSS_SEARCH.items():
        yield search, pruner, losses, energies


def done(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def rounds_of(values: list[float | None], pruner: str) -> int:
    """Rounds among the runs: a pruned run (None with a pruner) is one, a failed one is not."""
    return len(values) if pruner != "none" else len(done(values))


@pytest.mark.slow
def test_each_objective_has_its_own_best_table(report: Path) -> None:
    acc = pd.read_csv(report / "best_accuracy.csv").set_index("strategy")
    assert set(acc["study"]) == {f"accuracy-{s}" for s in fake_store.ACCURACY_SEARCH}
    for search, (accs, _) in fake_store.ACCURACY_SEARCH.items():
        assert acc.loc[search, "best_accuracy"] == pytest.approx(max(accs))
        assert acc.loc[search, "rounds_to_best"] == accs.index(max(accs)) + 1
    loss = pd.read_csv(report / "best_val_loss.csv").set_index(["strategy", "pruner"])
    assert not any("accuracy" in c for c in loss.columns)  # no column mixes the metrics
    assert len(loss) == len(fake_store.LOSS_SEARCH)
    for search, pruner, losses, energies in loss_studies():
        row, finished = loss.loc[(search, pruner)], done(losses)
        assert row["rounds"] == rounds_of(losses, pruner)
        assert row["best_val_loss"] == pytest.approx(min(finished))
        assert row["rounds_to_best"] == rounds_of(
            losses[: losses.index(min(finished)) + 1], pruner
        )
        # Failed and pruned rounds' joules were spent.
        assert row["energy_j"] == pytest.approx(sum(energies))


@pytest.mark.slow
def test_energy_to_target_of_a_loss_is_above_its_lowest(report: Path) -> None:
    table = pd.read_csv(report / "energy_to_target_val_loss.csv")
    assert "best_accuracy" not in table.columns
    table = table.set_index(["strategy", "pruner"])
    for search, pruner, losses, energies in loss_studies():
        best = min(done(losses))
        target = best * 1.01  # target_pct=1, relative to |best|
        first = next(i for i, v in enumerate(losses) if v is not None and v <= target)
        row = table.loc[(search, pruner)]
        assert row["target_val_loss"] == pytest.approx(target)
        assert row["rounds_to_target"] == rounds_of(losses[: first + 1], pruner)
        assert row["energy_to_target_j"] == pytest.approx(sum(energies[: first + 1]))
    # gp_pi's second round (0.695) is within 1% of its lowest (0.69): not its best round.
    assert table.loc[("gp_pi", "none"), "rounds_to_target"] == 2
    acc = pd.read_csv(report / "energy_to_target.csv")
    assert set(acc["study"]) == {f"accuracy-{s}" for s in fake_store.ACCURACY_SEARCH}


@pytest.mark.slow
def test_pruning_of_a_loss_against_one_target(report: Path) -> None:
    assert not (report / "pruning.csv").exists()  # no accuracy study was pruned
    table = pd.read_csv(report / "pruning_val_loss.csv").set_index("pruner")
    plain, _ = fake_store.LOSS_SEARCH[("random", "none")]
    pruned, pruned_j = fake_store.LOSS_SEARCH[("random", "median")]
    target = min(done(plain) + done(pruned)) * 1.01
    assert list(table["target_val_loss"]) == pytest.approx([target, target])
    median = table.loc["median"]
    assert median["pruned_rounds"] == pruned.count(None)
    assert median["best_val_loss"] == pytest.approx(min(done(pruned)))
    first = next(i for i, v in enumerate(pruned) if v is not None and v <= target)
    assert median["energy_to_target_j"] == pytest.approx(sum(pruned_j[: first + 1]))
    base = sum(fake_store.LOSS_SEARCH[("random", "none")][1])
    assert median["energy_vs_unpruned_pct"] == pytest.approx((sum(pruned_j) / base - 1) * 100)


@pytest.mark.slow
def test_report_names_the_metric_of_every_table_and_figure(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert "## Training studies: best accuracy and best val_loss (thesis Table 3.3)" in md
    assert "**Lowest `val_loss` (minimised) per study, the round (1-based)" in md
    assert "**Best test accuracy per study" in md
    assert "until its `val_loss` (minimised) came within 1% of its final lowest" in md
    assert "`target_val_loss`, the same for every pruner" in md
    figures = {p.name for p in report.glob("convergence_*.png")}
    assert figures == {
        f"convergence_{x}_synthetic_adam5{s}.png"
        for x in ("rounds", "energy")
        for s in ("", "_val_loss")
    }
    assert "Best-so-far `val_loss` (minimised) against rounds, synthetic" in md
    assert "Best-so-far accuracy against rounds, synthetic" in md
    for name in [p.name for p in report.iterdir() if p.name != "report.md"]:
        assert f"]({name})" in md, name
