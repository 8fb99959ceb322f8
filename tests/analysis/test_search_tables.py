"""Tables of training studies on small hand-made frames (no MLflow): energy choice, rounds that
count, curves, best accuracy, pruning; and the loader's split of runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from green_ai.analysis import search_tables as tables
from green_ai.analysis.load import split_runs
from green_ai.analysis.model_info import publication_order, publication_year
from green_ai.analysis.runs import ROUND_COLUMNS

NAN = float("nan")


def study(name: str, search: str = "random", **kw: object) -> dict[str, object]:
    base = {"study_name": name, "net": "densepoly", "conv": 0, "linear": 3, "relu": 1}
    base |= {"dataset": "synthetic", "search": search, "hparams": "adam3", "pruner": "none"}
    return base | {"seed": 0, "energy_metric": "energy_net_j"} | kw


def rounds_frame(rows: list[tuple[str, int, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["study_name", "round", "state", "accuracy", "energy"])
    return frame.assign(run_id=frame["study_name"] + frame["round"].astype(str))


def test_round_energy_is_one_metric_per_study() -> None:
    rounds = pd.DataFrame(
        [
            ("net", 0, "COMPLETE", 1.0, 11.0),
            ("net", 1, "FAIL", NAN, NAN),  # failed rounds do not decide the metric
            ("net", 2, "PRUNED", 0.5, 5.5),  # pruned rounds do: they are rounds
            ("gross", 0, "COMPLETE", 2.0, 12.0),
            ("gross", 1, "COMPLETE", NAN, 13.0),  # one round without net: all gross
            ("none", 0, "COMPLETE", NAN, NAN),
            ("none", 1, "RUNNING", 3.0, 4.0),  # a leftover's figures decide nothing
        ],
        columns=["study_name", "round", "state", "energy_net_j", "energy_j"],
    )
    out, info = tables.with_round_energy(rounds, "energy_net_j")
    metric = dict(zip(info["study_name"], info["energy_metric"], strict=True))
    assert metric == {"net": "energy_net_j", "gross": "energy_j", "none": "none"}
    assert list(out[out["study_name"] == "gross"]["energy"]) == [12.0, 13.0]
    assert out[out["study_name"] == "none"]["energy"].isna().all()
    _, info = tables.with_round_energy(rounds, "energy_j")
    assert set(info[info["study_name"] != "none"]["energy_metric"]) == {"energy_j"}


def test_curves_count_only_finished_rounds_and_every_joule_logged() -> None:
    rounds = rounds_frame(
        [
            ("s", 0, "COMPLETE", 0.5, 10.0),
            ("s", 1, "FAIL", NAN, 4.0),  # diverged: spent 4 J, no round
            ("s", 2, "PRUNED", 0.9, 2.0),  # stopped early: its accuracy is no result
            ("s", 3, "RUNNING", NAN, NAN),  # a killed worker's leftover: cost unknown
            ("s", 4, "COMPLETE", 0.6, 5.0),
            ("s", 5, "KILLED", 0.99, NAN),
        ]
    )
    curves = tables.search_curves(rounds, pd.DataFrame([study("s")]))
    assert list(curves["round"]) == [0, 2, 4]
    assert list(curves["n"]) == [1, 2, 3]
    assert list(curves["cumulative_energy_j"]) == [10.0, 16.0, 21.0]
    assert list(curves["best_so_far"]) == [0.5, 0.5, 0.6]
    assert np.isnan(curves["accuracy"].iloc[1])
    best = tables.best_accuracy_table(curves, pd.DataFrame([study("s")])).iloc[0]
    assert (best["rounds"], best["best_accuracy"], best["rounds_to_best"]) == (3, 0.6, 3)
    assert best["energy_j"] == 21.0
    assert tables.uncounted_without_energy(rounds, pd.DataFrame([study("s")])) == 2


def test_unmetered_study_has_no_joules_not_zero() -> None:
    rounds = rounds_frame([("s", 0, "COMPLETE", 0.5, NAN), ("s", 1, "COMPLETE", 0.7, NAN)])
    curves = tables.search_curves(rounds, pd.DataFrame([study("s", energy_metric="none")]))
    assert curves["cumulative_energy_j"].isna().all()


def test_pruning_measures_every_pruner_against_one_target() -> None:
    rounds = rounds_frame(
        [
            ("plain", 0, "COMPLETE", 0.5, 10.0),
            ("plain", 1, "COMPLETE", 0.8, 10.0),
            ("median", 0, "COMPLETE", 0.79, 10.0),
            ("median", 1, "PRUNED", NAN, 2.0),
            ("hb", 0, "PRUNED", NAN, 1.0),
            ("hb", 1, "COMPLETE", 0.6, 10.0),
            ("other", 0, "COMPLETE", 0.9, 10.0),  # another strategy, unpruned: not shown
        ]
    )
    studies = pd.DataFrame(
        [
            study("plain"),
            study("median", pruner="median"),
            study("hb", pruner="hyperband"),
            study("other", search="grid"),
        ]
    )
    table = tables.pruning_table(tables.search_curves(rounds, studies), studies, 2.0)
    table = table.set_index("pruner")
    assert set(table["strategy"]) == {"random"}
    assert list(table["target_accuracy"]) == pytest.approx([0.8 * 0.98] * 3)
    assert table.loc["median", "energy_to_target_j"] == 10.0  # 0.79 >= 0.784 at once
    assert table.loc["none", "energy_to_target_j"] == 20.0
    assert np.isnan(table.loc["hyperband", "energy_to_target_j"])  # never got there
    assert table.loc["median", "pruned_rounds"] == 1
    assert table.loc["median", "energy_vs_unpruned_pct"] == pytest.approx(-40.0)
    assert table.loc["none", "energy_vs_unpruned_pct"] == 0.0


def test_inference_labels_and_peak_power_fallback() -> None:
    from green_ai.analysis import inference_tables

    runs = pd.DataFrame(
        {
            "run_id": list("abcd"),
            "model": ["vit_b_16", "alexnet", "alexnet", "alexnet"],
            "frequency": [16.0] * 4,
            "arrivals": "constant",
            "batching": ["fixed", "greedy", "fixed", "timeout"],
            "batch_size": [16.0, np.nan, 32.0, 8.0],
            "max_batch": [np.nan, 128.0, np.nan, np.nan],
            "max_delay_s": [np.nan, np.nan, np.nan, 0.25],
            "energy_per_image_j": [1.0, 2.0, 3.0, 4.0],
            "energy_j": np.nan,
            "response_max_s": 1.0,
            "batch_size_mean": [16.0, 3.0, 32.0, 8.0],
            "power_peak_w_mean": [100.0, 50.0, 80.0, 60.0],
        }
    )
    points = inference_tables.inference_points(runs)
    assert list(points["model"]) == ["alexnet"] * 3 + ["vit_b_16"]  # 2012 before 2020
    assert list(points["batch_label"]) == ["G", "8/0.25s", "32", "16"]
    # No run of at most 2 images or at least 128: the smallest (3) and largest (32) stand in.
    peak = inference_tables.peak_power_table(points, 2, 128).set_index("model")
    assert peak.loc["alexnet", "small_peak_w"] == 50.0
    assert peak.loc["alexnet", "large_peak_w"] == 80.0
    assert peak.loc["alexnet", "difference_pct"] == pytest.approx(60.0)


def test_publication_order_and_years() -> None:
    models = ["convnext_tiny", "mystery", "vit_b_16", "alexnet", "shufflenet_v2_x1_0"]
    order = publication_order(models)
    assert order == ["alexnet", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny", "mystery"]
    assert publication_year("efficientnet_v2_s") == 2021  # longest prefix wins
    assert publication_year("mystery") is None


def test_split_runs_without_kind_tags() -> None:
    raw = pd.DataFrame({"run_id": ["x"], "start_time": [pd.Timestamp(0)]})
    runs = split_runs(raw, "exp")
    assert runs.untagged == 1 and runs.studies.empty and runs.inference.empty
    assert list(runs.rounds.columns) == ROUND_COLUMNS


def test_split_runs_reads_pruner_idle_power_and_prefers_finished_duplicates() -> None:
    t = pd.Timestamp
    raw = pd.DataFrame(
        {
            "run_id": ["p", "a", "b", "c"],
            "start_time": [t(0), t(1), t(2), t(3)],
            "tags.green_ai.kind": ["train_study", "train_round", "train_round", "train_round"],
            "tags.mlflow.parentRunId": [NAN, "p", "p", "p"],
            "params.study_name": ["s", NAN, NAN, NAN],
            "params.search.pruner": ["median", NAN, NAN, NAN],
            "params.relu": ["True", NAN, NAN, NAN],
            "metrics.idle_power_w": [7.5, NAN, NAN, NAN],
            "params.round": [NAN, "0", "0", "1"],
            "tags.state": [NAN, "COMPLETE", "RUNNING", NAN],
            "metrics.accuracy": [NAN, 0.5, 0.9, 0.6],
        }
    )
    runs = split_runs(raw, "exp")
    s = runs.studies.iloc[0]
    assert (s["pruner"], s["relu"]) == ("median", 1)
    r = runs.rounds.set_index("round")
    assert r.loc[0, "run_id"] == "a"  # the finished run of round 0, not the later leftover
    assert r.loc[1, "state"] == "COMPLETE"  # no state tag: logged before tags existed
    assert set(r["idle_power_w"]) == {7.5}
    assert math.isnan(tables.stats.two_means_split([]))
