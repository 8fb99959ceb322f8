"""Tables of training studies on small hand-made frames (no MLflow): energy choice, curves;
and the loader's split of runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from green_ai.analysis import inference_tables
from green_ai.analysis import search_tables as tables
from green_ai.analysis.load import split_runs
from green_ai.analysis.model_info import publication_order, publication_year


def study(
    name: str, net: str = "simplecnn", search: str = "random", **kw: object
) -> dict[str, object]:
    base = {"study_name": name, "net": net, "conv": 2, "linear": 3, "relu": 1}
    base |= {"dataset": "synthetic", "search": search, "hparams": "adam3", "epochs": 1}
    return base | {"batch_size": 128, "seed": 0} | kw


def rounds_frame(rows: list[tuple[str, int, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["study_name", "round", "state", "energy_net_j", "energy_j"]
    ).assign(accuracy=0.5, run_id="r")


def test_round_energy_is_one_metric_per_study() -> None:
    nan = float("nan")
    rounds = rounds_frame(
        [
            ("net", 0, "COMPLETE", 1.0, 11.0),
            ("net", 1, "FAIL", nan, nan),  # failed rounds do not decide the metric
            ("gross", 0, "COMPLETE", 2.0, 12.0),
            ("gross", 1, "COMPLETE", nan, 13.0),  # one round without net: all gross
            ("none", 0, "COMPLETE", nan, nan),
        ]
    )
    out, info = tables.with_round_energy(rounds, "energy_net_j")
    metric = dict(zip(info["study_name"], info["energy_metric"], strict=True))
    assert metric == {"net": "energy_net_j", "gross": "energy_j", "none": "none"}
    assert list(out[out["study_name"] == "gross"]["energy"]) == [12.0, 13.0]
    assert out[out["study_name"] == "none"]["energy"].isna().all()


def test_inference_labels_and_peak_power_fallback() -> None:
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


def test_search_curves_survive_an_interrupted_round() -> None:
    rounds = pd.DataFrame(
        {
            "study_name": "s",
            "round": [0, 1, 2],
            "state": ["COMPLETE", "FAIL", "COMPLETE"],
            "accuracy": [0.5, np.nan, 0.6],
            "energy": [10.0, np.nan, 5.0],
        }
    )
    curves = tables.search_curves(rounds, pd.DataFrame([study("s")]))
    assert list(curves["cumulative_energy_j"]) == [10.0, 10.0, 15.0]
    assert list(curves["best_so_far"]) == [0.5, 0.5, 0.6]


def test_split_runs_without_kind_tags() -> None:
    raw = pd.DataFrame({"run_id": ["x"], "start_time": [pd.Timestamp(0)]})
    runs = split_runs(raw, "exp")
    assert runs.untagged == 1 and runs.studies.empty and runs.inference.empty
    assert math.isnan(tables.stats.two_means_split([]))
