"""The factorial's observations and tables on small hand-made frames (no MLflow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from green_ai.analysis import factorial_tables as tables
from green_ai.analysis.runs import config_label

NAN = float("nan")


def study(name: str, conv: int = 2, **kw: object) -> dict[str, object]:
    base = {"study_name": name, "net": "simplecnn", "conv": conv, "linear": 3, "relu": 1}
    base |= {"dataset": "synthetic", "search": "random", "hparams": "adam3", "pruner": "none"}
    return base | {"epochs": 1, "batch_size": 128} | kw


def test_find_factorials_tells_them_from_search_studies() -> None:
    studies = pd.DataFrame(
        [
            study("a", conv=1),
            study("b", conv=4),
            study("c", conv=4, dataset="cifar10"),  # alone on its dataset: not a factorial
            study("d", net="densepoly", search="grid"),
            study("e", net="densepoly", search="gp_pi"),
            study("f", conv=1, pruner="median"),  # pruned: not part of a's and b's design
        ]
    )
    search, factorials = tables.find_factorials(studies)
    assert sorted(search["study_name"]) == ["c", "d", "e", "f"]
    assert len(factorials) == 1
    assert sorted(factorials[0].studies["study_name"]) == ["a", "b"]
    assert (factorials[0].label, factorials[0].dataset) == ("dataset=synthetic", "synthetic")


def test_factorials_are_named_by_dataset_and_what_else_differs() -> None:
    rows = [("a", 1, "x", 1), ("b", 4, "x", 1), ("c", 1, "y", 1), ("d", 4, "y", 1)]
    rows += [("e", 1, "y", 5), ("f", 4, "y", 5)]
    studies = pd.DataFrame([study(n, conv=c, dataset=d, epochs=e) for n, c, d, e in rows])
    _, factorials = tables.find_factorials(studies)
    assert [f.label for f in factorials] == [
        "dataset=x, epochs=1",
        "dataset=y, epochs=1",
        "dataset=y, epochs=5",
    ]
    assert [f.dataset for f in factorials] == ["x", "y", "y"]


def factorial(*names: str) -> tables.Factorial:
    studies = pd.DataFrame([study(n, conv=1 + 3 * i) for i, n in enumerate(names)])
    return tables.Factorial("dataset=synthetic", "synthetic", studies)


def rounds(*rows: tuple[str, int, str, float, float, float]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["study_name", "round", "state", "energy_net_j", "energy_j", "accuracy"]
    )
    return frame.assign(run_id=frame["study_name"] + frame["round"].astype(str), idle_power_w=2.0)


def test_round_points_use_one_energy_for_the_whole_factorial() -> None:
    r = rounds(
        ("a", 0, "COMPLETE", 10.0, 15.0, 0.5),
        ("a", 1, "PRUNED", 1.0, 2.0, 0.1),  # trained fewer epochs: not the cell's cost
        ("b", 0, "COMPLETE", NAN, 30.0, 0.6),  # no idle baseline: only gross
        ("c", 0, "COMPLETE", NAN, NAN, 0.7),  # no energy at all: left out
    )
    points = tables.round_points(r, factorial("a", "b", "c"), "energy_net_j")
    # Mixing a's net joules with b's gross ones would look like a layer effect: all gross.
    assert list(points.frame["energy_j"]) == [15.0, 30.0]
    assert "gross" in points.energy and points.left_out == ["c"]
    assert list(points.frame["config"]) == [config_label(3, 1, 1), config_label(3, 4, 1)]


def test_repetition_points_prefer_net_then_idle_off_gross() -> None:
    r = rounds(("a", 0, "COMPLETE", 9.0, 19.0, 0.5), ("b", 0, "COMPLETE", 9.0, 19.0, 0.6))
    reps = pd.DataFrame(
        {
            "run_id": ["a0", "a0", "b0", "b0"],
            "step": [0, 1, 0, 1],
            "rep_energy_net_j": [4.0, 5.0, NAN, NAN],  # b predates rep_energy_net_j
            "rep_energy_j": [9.0, 10.0, 9.0, 10.0],
            "rep_duration_s": [2.5, 2.5, 2.5, 2.5],
            "rep_accuracy": [0.4, 0.6, 0.5, 0.7],
        }
    )
    f = factorial("a", "b")
    points = tables.repetition_points(r, reps, f, "energy_net_j")
    # 9 − 2 W × 2.5 s = 4 for both studies; one source for all.
    assert list(points.frame["energy_j"]) == [4.0, 5.0, 4.0, 5.0]
    assert "idle_power_w" in points.energy and not points.left_out
    assert list(points.frame["accuracy"]) == [0.4, 0.6, 0.5, 0.7]
    assert list(points.frame["repetition"]) == [0, 1, 0, 1]
    full = tables.repetition_points(r, reps.fillna(1.0), f, "energy_net_j")
    assert "`rep_energy_net_j`" in full.energy
    gross = tables.repetition_points(r, reps, f, "energy_j")
    assert list(gross.frame["energy_j"]) == [9.0, 10.0, 9.0, 10.0]


def points(values: dict[tuple[int, int, int], list[float]], group: str = "g") -> pd.DataFrame:
    rows = [
        {
            "group": group,
            "dataset": group.upper(),
            "linear": li,
            "conv": c,
            "relu": r,
            "config": config_label(li, c, r),
            "energy_j": e,
            "accuracy": 0.5 + 0.001 * i,
        }
        for (li, c, r), es in values.items()
        for i, e in enumerate(es)
    ]
    return pd.DataFrame(rows)


def test_clusters_keep_each_configuration_whole() -> None:
    # Point by point, a threshold between 4 and 6 would split A and B; by mean they are apart.
    p = points({(3, 1, 0): [1.0, 9.0], (3, 1, 1): [2.0, 8.0], (3, 4, 0): [20.0, 21.0]})
    for method in ("kmeans", "median"):
        clustered = tables.assign_clusters(p, method)
        assert clustered.groupby("config")["cluster"].nunique().eq(1).all()
        assert set(clustered[clustered["conv"] == 4]["cluster"]) == {"E+"}
        assert set(clustered[clustered["conv"] == 1]["cluster"]) == {"E-"}
    table = tables.cluster_table(tables.assign_clusters(p, "kmeans")).set_index("cluster")
    assert table.loc["E-", "n"] == 4 and table.loc["E-", "mean_energy_j"] == 5.0
    assert table.loc["E+", "threshold_j"] == pytest.approx((5.0 + 20.5) / 2)


def test_shapiro_and_qq_withheld_below_their_minimum() -> None:
    p = points({(3, 1, 0): [1.0, 2.0, 4.0, 8.0], (3, 4, 0): [1.0, 3.0, 2.0]})
    table = tables.shapiro_table(p, 0.05, min_n=4).set_index("config")
    assert table.loc["lin3 conv4 relu0", "normal"] == "withheld"
    assert np.isnan(table.loc["lin3 conv4 relu0", "W"])
    assert table.loc["lin3 conv1 relu0", "W"] == pytest.approx(sps.shapiro([1, 2, 4, 8]).statistic)
    assert set(tables.qq_table(p, min_n=4)["config"]) == {"lin3 conv1 relu0"}
    assert tables.qq_table(p, min_n=5).empty


def test_kruskal_per_dataset_withholds_labels_on_small_levels() -> None:
    a = points({(3, 1, 0): [1.0, 2.0, 3.0], (3, 4, 0): [7.0, 8.0, 9.0]}, group="a")
    b = points({(3, 1, 0): [1.0, 2.0, 3.0, 4.0], (3, 4, 0): [1.5, 2.5, 3.5, 4.5]}, group="b")
    table = tables.kruskal_table(pd.concat([a, b]), min_n=4).set_index("dataset")
    assert list(table.index) == ["A", "B"]
    ref = sps.kruskal([1, 2, 3], [7, 8, 9])
    assert table.loc["A", "statistic"] == pytest.approx(ref.statistic)
    assert table.loc["A", "n_smallest"] == 3 and table.loc["A", "magnitude"] == "withheld"
    assert table.loc["B", "magnitude"] != "withheld"
    increase = tables.increase_table(pd.concat([a, b])).set_index("dataset")
    assert increase.loc["A", "increase_pct"] == pytest.approx(300.0)
    assert increase.loc["B", "increase_pct"] == pytest.approx(20.0)


def test_energy_cv_is_scipys_variation_with_accuracy_next_to_it() -> None:
    p = points({(3, 1, 0): [3.0, 5.0, 4.0, 9.0], (3, 4, 0): [2.0]})
    table = tables.energy_cv_table(p).set_index("conv")
    assert table.loc["1", "cv"] == pytest.approx(sps.variation([3.0, 5.0, 4.0, 9.0], ddof=1))
    assert table.loc["1", "mean_accuracy"] == pytest.approx(0.5015)
    assert np.isnan(table.loc["4", "cv"])  # one value: no spread to read
