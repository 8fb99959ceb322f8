"""A tidy CSV of observations as the report's input: what it becomes, and one-line errors
naming the row and the column for every malformed file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy import stats as sps

from green_ai.analysis.tidy import read_tidy
from green_ai.analysis.writer import write_report
from green_ai.config.report import ReportConfig
from green_ai.errors import UserError

FACTORIAL = "dataset,conv,linear,relu,energy_j,accuracy,round,repetition\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "results.csv"
    path.write_text(text, encoding="utf-8")
    return path


def sweep_rows(datasets: tuple[str, ...] = ("fmnist",), reps: int = 3) -> str:
    """The 2×2 sweep conv=1,4 relu=0,1, two rounds of `reps` trainings per cell."""
    lines = []
    for d, dataset in enumerate(datasets):
        for conv in (1, 4):
            for relu in (0, 1):
                for rnd in range(2):
                    for rep in range(reps):
                        e = 100 * conv * (1 + d) + 3 * relu + rnd + 0.1 * rep
                        acc = 0.8 + 0.01 * conv + 0.001 * rep - 0.002 * rnd
                        lines.append(f"{dataset},{conv},3,{relu},{e},{acc},{rnd},{rep}")
    return FACTORIAL + "\n".join(lines) + "\n"


def test_factorial_rows_become_studies_rounds_and_repetitions(tmp_path: Path) -> None:
    runs = read_tidy(write(tmp_path, sweep_rows()))
    assert len(runs.studies) == 4 and set(runs.studies["pruner"]) == {"none"}
    assert len(runs.rounds) == 8 and set(runs.rounds["state"]) == {"COMPLETE"}
    r = runs.rounds[runs.rounds["study_name"] == "fmnist lin3 conv4 relu1"].iloc[0]
    # A round is its repetitions: joules summed, accuracy averaged.
    assert r["energy_net_j"] == pytest.approx(3 * 403 + 0.3)
    assert r["accuracy"] == pytest.approx(0.841)
    reps = runs.rep_metrics([r["run_id"]])
    assert list(reps["step"]) == [0, 1, 2]
    assert list(reps["rep_energy_net_j"]) == pytest.approx([403.0, 403.1, 403.2])


def test_rows_without_round_or_repetition_are_numbered_in_file_order(tmp_path: Path) -> None:
    text = "dataset,conv,linear,relu,energy_j,accuracy\n" + "\n".join(
        f"d,{c},3,0,{e},0.5" for c, e in [(1, 10), (4, 20), (1, 11), (4, 21)]
    )
    runs = read_tidy(write(tmp_path, text))
    # Without `round` each row is its own round of one training.
    assert list(runs.rounds.sort_values(["study_name", "round"])["energy_net_j"]) == [
        10.0,
        11.0,
        20.0,
        21.0,
    ]
    assert set(runs.rep_metrics(list(runs.rounds["run_id"]))["step"]) == {0}


def test_one_layer_count_named_as_the_factor_keeps_its_levels_apart(tmp_path: Path) -> None:
    # factors=[conv] on a file without linear and relu: each conv level is its own cell
    # (once, every row fell into one study named by the dataset alone).
    text = "dataset,conv,energy_j,accuracy\n" + "\n".join(
        f"d,{c},{e},0.5" for c, e in [(1, 10), (4, 20), (1, 11), (4, 21)]
    )
    runs = read_tidy(write(tmp_path, text), ["conv"])
    assert sorted(runs.studies["study_name"]) == ["d conv=1", "d conv=4"]
    by_study = runs.rounds.groupby("study_name")["energy_net_j"].apply(sorted).to_dict()
    assert by_study == {"d conv=1": [10.0, 11.0], "d conv=4": [20.0, 21.0]}


def test_search_rows_keep_their_state_and_pruner(tmp_path: Path) -> None:
    text = (
        "dataset,net,search,hparams,round,accuracy,energy_j,state,pruner\n"
        "c10,densepoly,gp_pi,adam5,0,0.3,10,,\n"
        "c10,densepoly,gp_pi,adam5,1,,4,FAIL,\n"
        "c10,densepoly,gp_pi,adam5,0,0.31,9,,median\n"
        "c10,densepoly,gp_pi,adam5,1,,2,PRUNED,median\n"
    )
    runs = read_tidy(write(tmp_path, text))
    assert sorted(runs.studies["pruner"]) == ["median", "none"]
    assert list(runs.rounds["state"]) == ["COMPLETE", "FAIL", "COMPLETE", "PRUNED"]
    assert runs.rounds["energy_net_j"].sum() == 25.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "dataset,conv,linear,relu,accuracy\nd,1,3,0,0.5\n",
            "results.csv row 2: no column `energy_j`; factorial rows need dataset, conv, linear, "
            "relu, energy_j, accuracy",
        ),
        (
            FACTORIAL + "d,1,3,0,10,0.5,0,0\nd,4,3,0,lots,0.5,0,0\n",
            "row 3: energy_j='lots' is not",
        ),
        (FACTORIAL + "d,1,3,2,10,0.5,0,0\n", "row 2: relu='2' is not one of 0, 1"),
        (FACTORIAL + "d,1.5,3,0,10,0.5,0,0\n", "row 2: conv='1.5' is not a whole number"),
        (FACTORIAL + "d,1,3,0,,0.5,0,0\n", "row 2: energy_j is empty"),
        (FACTORIAL + "d,1,3,0,10,0.5,0,0\nd,1,3,0,11,0.5,0,inf\n", "row 3: repetition='inf'"),
        (
            FACTORIAL + "d,1,3,0,10,0.5,0,0\nd,4,3,0,10,0.5,0,0\nd,1,3,0,11,0.5,0,0\n",
            "row 4: the same observation as row 2 (d lin3 conv1 relu0, round=0, repetition=0)",
        ),
        (
            "dataset,net,search,hparams,round,accuracy,state\nd,n,grid,adam3,0,0.5,DONE\n",
            "row 2: state='DONE' is not one of COMPLETE, PRUNED, FAIL",
        ),
        (
            "dataset,net,search,round,accuracy\nd,n,grid,0,0.5\n",
            "row 2: no column `hparams`; search rows need dataset, net, search, hparams, round",
        ),
        (
            "dataset,net,search,hparams,round,accuracy\nd,n,grid,adam3,0,\n",
            "row 2: accuracy is empty in a COMPLETE round",
        ),
        (
            "dataset,net,search,hparams,round,accuracy\nd,n,grid,adam3,-1,0.5\n",
            "row 2: round='-1' is not a whole number from 0 up",
        ),
        ("dataset,conv\n", "a header but no rows"),
    ],
)
def test_malformed_file_is_one_line_naming_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UserError) as err:
        read_tidy(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_tidy(tmp_path / "absent.csv")


@pytest.mark.slow
def test_two_datasets_get_one_kruskal_block_each(tmp_path: Path) -> None:
    runs = read_tidy(write(tmp_path, sweep_rows(("fmnist", "cifar10"), reps=4)))
    out = tmp_path / "report"
    write_report(runs, ReportConfig(), out)
    table = pd.read_csv(out / "kruskal_wallis.csv")
    assert sorted(set(table["dataset"])) == ["cifar10", "fmnist"]
    frame = pd.read_csv(tmp_path / "results.csv")
    for dataset, block in table.groupby("dataset"):
        part = frame[frame["dataset"] == dataset]
        conv = block.set_index("factor").loc["conv"]
        ref = sps.kruskal(*[g["energy_j"] for _, g in part.groupby("conv")])
        assert conv["statistic"] == pytest.approx(ref.statistic)
        assert conv["n"] == len(part) == 32
    for name in ("shapiro_wilk", "energy_increase", "clusters", "energy_cv"):
        assert set(pd.read_csv(out / f"{name}.csv")["dataset"]) == {"fmnist", "cifar10"}


@pytest.mark.slow
def test_the_2x2_sweep_gets_best_accuracy_and_accuracy_per_cell(tmp_path: Path) -> None:
    out = tmp_path / "report"
    write_report(read_tidy(write(tmp_path, sweep_rows())), ReportConfig(), out)
    best = pd.read_csv(out / "best_accuracy.csv").set_index(["conv", "relu"])
    assert len(best) == 4
    # Round 0 averages 0.811 at conv=1, round 1 0.809: the best is the 1st round.
    assert best.loc[(1, 0), "best_accuracy"] == pytest.approx(0.811)
    assert best.loc[(1, 0), "rounds_to_best"] == 1
    cv = pd.read_csv(out / "energy_cv.csv")
    assert cv["mean_accuracy"].notna().all() and cv["mean_energy_j"].notna().all()
    # Six trainings per cell: below guards.normality_min_n, so no normality test and no Q–Q.
    assert set(pd.read_csv(out / "shapiro_wilk.csv")["normal"]) == {"withheld"}
    assert not (out / "qq_energy.png").exists()
