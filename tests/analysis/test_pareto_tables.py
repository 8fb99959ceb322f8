"""Accuracy-and-energy studies in the report: the front's hypervolume (hand-computed, and as
a public implementation computes it) and the Pareto pruning table on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from green_ai.analysis import pareto_tables
from green_ai.analysis import search_tables as tables
from green_ai.analysis.markdown import Report
from green_ai.analysis.section_training import _pruning

NAN = float("nan")


def test_hypervolume_by_hand() -> None:
    # (0.5, 2 J) and (0.8, 5 J) up to (0, 10 J): 0.5 × 8 + 0.3 × 5.
    ref = (0.0, 10.0)
    assert pareto_tables.hypervolume([0.5, 0.8], [2.0, 5.0], ref, maximize=True) == 5.5
    # A dominated point, one past the reference, and a NaN (a pruned round) add nothing.
    more = pareto_tables.hypervolume(
        [0.5, 0.8, 0.4, 0.9, NAN], [2.0, 5.0, 6.0, 11.0, 1.0], ref, maximize=True
    )
    assert more == 5.5
    # A minimised loss: (1.0, 2 J), (0.5, 5 J) up to (2.0, 10 J): 1.0 × 8 + 0.5 × 5.
    loss = pareto_tables.hypervolume([1.0, 0.5], [2.0, 5.0], (2.0, 10.0), maximize=False)
    assert loss == 10.5
    so_far = pareto_tables.hypervolume_so_far([0.8, 0.4, 0.5], [5.0, 1.0, 2.0], ref, maximize=True)
    # Each prefix's front: (0.8, 5 J); + (0.4, 1 J) below it; + (0.5, 2 J) between them.
    expected = [0.8 * 5, 0.4 * 9 + 0.4 * 5, 0.4 * 9 + 0.1 * 8 + 0.3 * 5]
    assert list(so_far) == pytest.approx(expected)


def test_hypervolume_matches_a_public_implementation() -> None:
    torch = pytest.importorskip("torch")
    hv = pytest.importorskip("botorch.utils.multi_objective.hypervolume")
    rng = np.random.default_rng(0)
    for _ in range(5):
        acc, joules = rng.uniform(0, 1, 12), rng.uniform(1, 20, 12)
        ours = pareto_tables.hypervolume(acc, joules, (0.0, 20.0), maximize=True)
        # botorch maximises every objective: joules negated, the reference too.
        theirs = hv.Hypervolume(torch.tensor([0.0, -20.0], dtype=torch.float64)).compute(
            torch.tensor(np.stack([acc, -joules], axis=1), dtype=torch.float64)
        )
        assert ours == pytest.approx(theirs)


def study(name: str, pruner: str, objectives: str = "accuracy,energy") -> dict[str, object]:
    return {
        "study_name": name,
        "net": "simplecnn",
        "conv": 1,
        "linear": 2,
        "relu": 1,
        "dataset": "synthetic",
        "search": "random",
        "hparams": "adam_width",
        "pruner": pruner,
        "seed": 0,
        "energy_metric": "energy_j",
        "objectives": objectives,
    }


def pareto_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        ("none", 0, "COMPLETE", 0.5, 2.0),
        ("none", 1, "COMPLETE", 0.3, 8.0),  # dominated
        ("none", 2, "COMPLETE", 0.8, 5.0),
        ("pareto", 0, "COMPLETE", 0.5, 2.0),
        ("pareto", 1, "PRUNED", 0.9, 3.0),  # its accuracy is no result; its joules count
        ("pareto", 2, "COMPLETE", 0.7, 4.0),
        ("median", 0, "COMPLETE", 0.9, 1.0),  # a single-objective study: another table
        ("median", 1, "PRUNED", NAN, 1.0),
    ]
    rounds = pd.DataFrame(rows, columns=["study_name", "round", "state", "accuracy", "energy"])
    studies = pd.DataFrame(
        [study("none", "none"), study("pareto", "pareto"), study("median", "median", "accuracy")]
    )
    return rounds, studies


def test_pareto_pruning_table_measures_both_fronts_from_one_reference() -> None:
    rounds, studies = pareto_frames()
    pareto = studies[pareto_tables.is_pareto(studies)]
    assert list(pareto["study_name"]) == ["none", "pareto"]
    curves = tables.search_curves(rounds, pareto)
    table = pareto_tables.pareto_pruning_table(curves, pareto, 5.0).set_index("pruner")
    # The reference: accuracy 0 and the most joules of any COMPLETE round (8 J, unpruned).
    assert set(table["reference_energy_j"]) == {8.0} and set(table["reference_accuracy"]) == {0}
    assert table.loc["none", "hypervolume"] == pytest.approx(0.5 * 6 + 0.3 * 3)
    assert table.loc["pareto", "hypervolume"] == pytest.approx(0.5 * 6 + 0.2 * 4)
    assert table.loc["pareto", "front_rounds"] == 2 and table.loc["none", "front_rounds"] == 2
    assert table.loc["pareto", "energy_j"] == 9.0 and table.loc["pareto", "pruned_rounds"] == 1
    assert table.loc["pareto", "energy_vs_unpruned_pct"] == pytest.approx((9 / 15 - 1) * 100)
    assert table.loc["pareto", "hypervolume_vs_unpruned_pct"] == pytest.approx(
        (3.8 / 3.9 - 1) * 100
    )
    # 95% of the largest hypervolume (3.9): each study reached it with its third round, the
    # pruned one for fewer joules; 99% only the unpruned one reached.
    assert table.loc["none", "target_hypervolume"] == pytest.approx(0.95 * 3.9)
    assert table.loc["none", "energy_to_target_j"] == 15.0
    assert table.loc["pareto", "energy_to_target_j"] == 9.0
    strict = pareto_tables.pareto_pruning_table(curves, pareto, 1.0).set_index("pruner")
    assert np.isnan(strict.loc["pareto", "energy_to_target_j"])


def test_report_shows_pareto_studies_apart(tmp_path) -> None:
    rounds, studies = pareto_frames()
    curves = tables.search_curves(rounds, studies)
    report = Report(tmp_path)
    _pruning(report, curves, tables.objective_groups(studies), 5.0)
    text = "\n".join(report.lines)
    assert "pruning_pareto.csv" in text and "pruning.csv" in text
    single = pd.read_csv(tmp_path / "pruning.csv")
    assert set(single["pruner"]) == {"median"}  # the Pareto studies are not in it
    assert "one reference point" in text
