"""The report end to end on a tiny MLflow store whose runs are known (tests/analysis/fake_store),
and on the same runs written as a tidy CSV.

Every expected number is recomputed here from the store's formulas, with scipy where it has
the statistic, and compared with the CSVs the report wrote.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from scipy import stats as sps

from green_ai.analysis.model_info import imagenet_top1
from green_ai.errors import UserError
from green_ai.report import run_report

from . import fake_store

pytestmark = pytest.mark.slow  # builds a store (~10 s here) and writes reports

CONF = Path(__file__).resolve().parents[2] / "conf"
ARCHS = list(itertools.product((3, 7), (1, 4), (0, 1)))  # (linear, conv, relu)
NAN = float("nan")


def report_cfg(uri: str, experiment: str, out_dir: Path, *extra: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "report",
            [
                f"tracking.uri={uri}",
                f"tracking.experiment={experiment}",
                f"out_dir={out_dir}",
                *extra,
            ],
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    fake_store.build(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def out(store: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("report")
    path = run_report(report_cfg(store, fake_store.EXPERIMENT, out_dir))
    assert path == out_dir / "report.md"
    return out_dir


@pytest.fixture(scope="module")
def csv_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same training runs as a tidy CSV, reported without MLflow."""
    folder = tmp_path_factory.mktemp("tidy")
    pd.DataFrame(fake_store.tidy_rows()).to_csv(folder / "results.csv", index=False)
    out_dir = folder / "report"
    run_report(report_cfg("sqlite:///nowhere.db", "none", out_dir, f"input={folder}/results.csv"))
    return out_dir


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name)


def counted(accs: list[float | None]) -> list[float | None]:
    """The rounds a search study counts: every run but the failed ones (None)."""
    return [a for a in accs if a is not None]


# --- training studies --------------------------------------------------------------------------


def test_best_accuracy_counts_only_finished_rounds(out: Path) -> None:
    table = read(out, "best_accuracy.csv")
    search = table[table["net"] == "densepoly"].set_index(["strategy", "pruner"])
    for strategy, (accs, energies) in fake_store.SEARCH.items():
        row = search.loc[(strategy, "none")]
        done = counted(accs)
        best = max(a for a in done if a is not None)
        # A killed worker's RUNNING/KILLED leftover (accuracy 0.99 / 0.9) is no round.
        assert row["rounds"] == len(done)
        assert row["best_accuracy"] == pytest.approx(best)
        assert row["rounds_to_best"] == done.index(best) + 1
        if energies:  # failed rounds' joules were spent: they count
            assert row["energy_j"] == pytest.approx(sum(energies))
            assert row["energy_metric"] == "energy_net_j"
        else:
            assert np.isnan(row["energy_j"]) and row["energy_metric"] == "none"
    pruned = search.loc[("random", "median")]
    assert (pruned["rounds"], pruned["best_accuracy"], pruned["rounds_to_best"]) == (4, 0.72, 3)
    # Every training study is in it, the factorial's too, with its joules.
    arch = table[table["net"] == "simplecnn"]
    assert len(arch) == len(ARCHS)
    row = arch[(arch["linear"] == 7) & (arch["conv"] == 4) & (arch["relu"] == 1)].iloc[0]
    rounds = range(fake_store.FACTORIAL_ROUNDS)
    assert row["energy_j"] == pytest.approx(
        sum(fake_store.factorial_energy(7, 4, 1, r) for r in rounds)
    )
    assert row["best_accuracy"] == pytest.approx(fake_store.factorial_accuracy(7, 4, 1, 3))


def test_energy_to_target_counts_rounds_up_to_the_target(out: Path) -> None:
    table = read(out, "energy_to_target.csv").set_index(["strategy", "pruner"])
    assert "grid" not in table.index.get_level_values(0)  # its rounds have no energy
    random = table.loc[("random", "none")]
    # 1%: target 0.71·0.99, first met by the 4th round → all 100 J.
    assert random["target_accuracy"] == pytest.approx(0.7029)
    assert (random["rounds_to_target"], random["energy_to_target_j"]) == (4, 100.0)
    # gp_pi: met by its 2nd round (0.75); the failed 3rd run's 9 J count in the total only.
    gp = table.loc[("gp_pi", "none")]
    assert (gp["rounds_to_target"], gp["energy_to_target_j"]) == (2, 23.0)
    assert gp["total_energy_j"] == pytest.approx(45.0)
    # Pruned rounds' joules count on the way to the target (10 + 3 + 20).
    assert table.loc[("random", "median"), "energy_to_target_j"] == pytest.approx(33.0)


def test_pruning_compares_each_strategy_with_and_without(out: Path) -> None:
    table = read(out, "pruning.csv").set_index("pruner")
    assert set(table["strategy"]) == {"random"}  # no other strategy was pruned
    target = 0.72 * 0.99  # the best either random study reached, less 1%
    assert list(table["target_accuracy"]) == pytest.approx([target, target])
    none, median = table.loc["none"], table.loc["median"]
    assert (none["energy_j"], none["pruned_rounds"], none["best_accuracy"]) == (100.0, 0, 0.71)
    assert np.isnan(none["energy_to_target_j"])  # 0.71 never reaches 0.7128
    assert (median["energy_j"], median["pruned_rounds"], median["best_accuracy"]) == (37, 2, 0.72)
    assert median["energy_to_target_j"] == pytest.approx(33.0)
    assert median["energy_vs_unpruned_pct"] == pytest.approx(-63.0)


# --- architecture factorial --------------------------------------------------------------------


def factorial_frame(unit: str = "repetition") -> pd.DataFrame:
    rows = []
    for linear, conv, relu in ARCHS:
        for rnd in range(fake_store.FACTORIAL_ROUNDS):
            if unit == "round":
                e = fake_store.factorial_energy(linear, conv, relu, rnd)
                pairs = [(e, fake_store.factorial_accuracy(linear, conv, relu, rnd))]
            else:
                pairs = fake_store.factorial_reps(linear, conv, relu, rnd)
            rows += [
                {"linear": linear, "conv": conv, "relu": relu, "energy": e, "accuracy": a}
                for e, a in pairs
            ]
    return pd.DataFrame(rows)


def check_kruskal(table: pd.DataFrame, data: pd.DataFrame) -> None:
    assert list(table["factor"]) == ["linear", "conv", "relu"]
    assert set(table["dataset"]) == {"synthetic"}
    n = len(data)
    for _, row in table.iterrows():
        groups = [g["energy"].to_numpy() for _, g in data.groupby(row["factor"])]
        ref = sps.kruskal(*groups)
        eta2 = (ref.statistic - len(groups) + 1) / (n - len(groups))
        assert row["n"] == n
        assert row["statistic"] == pytest.approx(ref.statistic)
        assert row["p"] == pytest.approx(ref.pvalue)
        assert row["eta2"] == pytest.approx(eta2)
        expected = ["negligible", "small", "medium", "large"][
            int(np.searchsorted([0.01, 0.06, 0.14], eta2, side="right"))
        ]
        assert row["magnitude"] == expected


def test_kruskal_wallis_on_every_training_iteration(out: Path) -> None:
    table = read(out, "kruskal_wallis.csv")
    check_kruskal(table, factorial_frame())  # 8 configurations × 4 rounds × 2 repetitions
    assert table.set_index("factor").loc["conv", "magnitude"] == "large"
    md = (out / "report.md").read_text()
    assert "one training iteration" in md and "`rep_energy_net_j` (idle-subtracted)" in md


def test_energy_cv_and_accuracy_per_configuration(out: Path) -> None:
    table = read(out, "energy_cv.csv")
    data = factorial_frame()
    assert len(table) == len(ARCHS)
    for _, row in table.iterrows():
        cell = data[
            (data["linear"] == row["linear"])
            & (data["conv"] == row["conv"])
            & (data["relu"] == row["relu"])
        ]
        assert row["n"] == fake_store.FACTORIAL_ROUNDS * fake_store.FACTORIAL_REPS
        assert row["cv"] == pytest.approx(sps.variation(cell["energy"], ddof=1))
        assert row["mean_energy_j"] == pytest.approx(cell["energy"].mean())
        assert row["mean_accuracy"] == pytest.approx(cell["accuracy"].mean())


def test_shapiro_and_dunn_tables(out: Path) -> None:
    shapiro = read(out, "shapiro_wilk.csv")
    assert len(shapiro) == len(ARCHS) and set(shapiro["dataset"]) == {"synthetic"}
    data = factorial_frame()
    e = data[(data["linear"] == 3) & (data["conv"] == 1) & (data["relu"] == 0)]["energy"]
    row = shapiro[shapiro["config"] == "lin3 conv1 relu0"].iloc[0]
    assert row["n"] == 8  # guards.normality_min_n: shown from 8 up
    assert row["W"] == pytest.approx(sps.shapiro(e).statistic)
    dunn = read(out, "dunn.csv")
    assert set(dunn["p_adjust"]) == {"holm"}
    assert set(dunn["factor"]) == {"linear", "conv", "relu", "config"}
    assert (dunn["factor"] == "config").sum() == len(ARCHS) * (len(ARCHS) - 1) // 2
    assert dunn[["p"]].ge(0).all().all() and dunn[["p"]].le(1).all().all()
    assert (out / "qq_energy.png").exists()


def test_mean_energy_increase_per_factor(out: Path) -> None:
    table = read(out, "energy_increase.csv").set_index("factor")
    data = factorial_frame()
    for factor, (lo, hi) in {"conv": (1, 4), "linear": (3, 7), "relu": (0, 1)}.items():
        means = data.groupby(factor)["energy"].mean()
        assert table.loc[factor, "increase_pct"] == pytest.approx(
            (means[hi] / means[lo] - 1) * 100
        )
        assert table.loc[factor, "dataset"] == "synthetic"
    assert table.loc["conv", "increase_pct"] > 90  # the thesis's "+95%" shape


def test_clusters_hold_whole_configurations(out: Path) -> None:
    table = read(out, "clusters.csv").set_index("cluster")
    data = factorial_frame()
    for cluster, conv in (("E+", 4), ("E-", 1)):
        part = data[data["conv"] == conv]
        row = table.loc[cluster]
        assert row["n"] == len(part)
        assert row["mean_energy_j"] == pytest.approx(part["energy"].mean())
        assert row["mean_accuracy"] == pytest.approx(part["accuracy"].mean())
        assert row["max_accuracy"] == pytest.approx(part["accuracy"].max())
        assert row["std_accuracy"] == pytest.approx(part["accuracy"].std(ddof=1))
        assert all(f"conv{conv}" in c for c in row["configs"].split("; "))
    configs = [c for cs in table["configs"] for c in cs.split("; ")]
    assert len(configs) == len(set(configs)) == len(ARCHS)


def test_round_unit_withholds_normality_on_few_rounds(store: str, tmp_path: Path) -> None:
    run_report(report_cfg(store, fake_store.EXPERIMENT, tmp_path, "factorial.unit=round"))
    check_kruskal(read(tmp_path, "kruskal_wallis.csv"), factorial_frame("round"))
    assert set(read(tmp_path, "energy_cv.csv")["n"]) == {fake_store.FACTORIAL_ROUNDS}
    shapiro = read(tmp_path, "shapiro_wilk.csv")
    assert set(shapiro["normal"]) == {"withheld"} and shapiro["W"].isna().all()
    assert not (tmp_path / "qq_energy.png").exists()
    md = (tmp_path / "report.md").read_text()
    assert "no Q–Q plot: it needs at least 8 observations per configuration" in md
    assert "one round (its repetitions' joules summed" in md


def test_effect_labels_withheld_below_their_minimum(store: str, tmp_path: Path) -> None:
    cfg = report_cfg(
        store, fake_store.EXPERIMENT, tmp_path, "factorial.unit=round", "guards.effect_min_n=20"
    )
    run_report(cfg)
    table = read(tmp_path, "kruskal_wallis.csv")
    assert set(table["n_smallest"]) == {16} and set(table["magnitude"]) == {"withheld"}
    assert table["eta2"].notna().all()  # the figures stay; only the label is withheld
    assert (
        "labels withheld where a factor level has fewer than 20"
        in (tmp_path / "report.md").read_text()
    )


def test_runs_without_rep_energy_net_take_idle_off_gross(store: str, tmp_path: Path) -> None:
    run_report(report_cfg(store, fake_store.LEGACY_EXPERIMENT, tmp_path))
    # rep_energy_j − idle_power_w × rep_duration_s is the store's net joules again.
    check_kruskal(read(tmp_path, "kruskal_wallis.csv"), factorial_frame())
    assert (
        "`rep_energy_j` − `idle_power_w` × `rep_duration_s`"
        in (tmp_path / "report.md").read_text()
    )


# --- the same runs as a tidy CSV ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["kruskal_wallis", "energy_increase", "clusters", "energy_cv", "shapiro_wilk", "dunn"],
)
def test_csv_gives_the_same_factorial_tables(out: Path, csv_out: Path, name: str) -> None:
    pd.testing.assert_frame_equal(read(csv_out, f"{name}.csv"), read(out, f"{name}.csv"))


@pytest.mark.parametrize("name", ["best_accuracy", "energy_to_target", "pruning"])
def test_csv_gives_the_same_search_tables(out: Path, csv_out: Path, name: str) -> None:
    # The CSV names its studies itself, and its factorial rows carry no net or strategy.
    mlflow_table = read(out, f"{name}.csv").drop(columns="study")
    csv_table = read(csv_out, f"{name}.csv").drop(columns="study")
    key = ["strategy", "pruner", "linear", "conv", "relu"]
    search = mlflow_table[mlflow_table["net"] != "simplecnn"]
    pd.testing.assert_frame_equal(
        csv_table[csv_table["net"].notna()].sort_values(key).reset_index(drop=True),
        search.sort_values(key).reset_index(drop=True),
    )
    if name == "best_accuracy":
        cells = ["linear", "conv", "relu", "rounds", "best_accuracy", "rounds_to_best", "energy_j"]
        factorial = mlflow_table[mlflow_table["net"] == "simplecnn"]
        pd.testing.assert_frame_equal(
            csv_table[csv_table["net"].isna()][cells].sort_values(cells).reset_index(drop=True),
            factorial[cells].sort_values(cells).reset_index(drop=True),
        )


def test_csv_report_names_its_source_and_has_no_inference(csv_out: Path) -> None:
    md = (csv_out / "report.md").read_text()
    assert md.startswith("# Report of file `results.csv`")
    assert "no inference runs" in md
    assert not (csv_out / "peak_power.csv").exists()


# --- inference ---------------------------------------------------------------------------------


def test_peak_power_small_against_large_batches(out: Path) -> None:
    table = read(out, "peak_power.csv").set_index("model")
    for model in fake_store.INFER_MODELS:

        def peak(freq: int, batching: str, size: int, m: str = model) -> float:
            return fake_store.inference_metrics(m, freq, batching, size)["power_peak_w_mean"]

        small = peak(16, "greedy", 128)  # mean batch 1: the only run of at most 2 images
        large = np.mean([peak(16, "fixed", 128), peak(128, "fixed", 128)])
        row = table.loc[model]
        assert row["small_peak_w"] == pytest.approx(small)
        assert row["large_peak_w"] == pytest.approx(large)
        assert row["difference_pct"] == pytest.approx((large / small - 1) * 100)
        assert float(row["small_batch"]) == 1.0


def test_energy_timeline_and_relative_change(out: Path) -> None:
    timeline = read(out, "energy_timeline.csv")
    assert list(dict.fromkeys(timeline["model"])) == ["alexnet", "shufflenet_v2_x1_0"]
    row = timeline[(timeline["model"] == "alexnet") & (timeline["frequency"] == 16)].iloc[0]
    expected = np.mean(
        [
            fake_store.inference_metrics("alexnet", 16, b, s)["energy_per_image_j"]
            for b, s in fake_store.INFER_BATCHING
        ]
    )
    assert row["energy_per_image_j"] == pytest.approx(expected)
    assert row["year"] == 2012
    change = read(out, "relative_change.csv").set_index("model")
    # ShuffleNet's energies are 1.5× AlexNet's in the store.
    assert change.loc["shufflenet_v2_x1_0", "energy_change_pct"] == pytest.approx(50.0)
    assert change.loc["alexnet", "energy_change_pct"] == pytest.approx(0.0)
    acc = imagenet_top1("shufflenet_v2_x1_0") / imagenet_top1("alexnet") - 1
    assert change.loc["shufflenet_v2_x1_0", "accuracy_change_pct"] == pytest.approx(acc * 100)


# --- report.md and errors ----------------------------------------------------------------------


def test_report_embeds_every_file_and_names_what_is_missing(out: Path) -> None:
    md = (out / "report.md").read_text()
    files = sorted(p.name for p in out.iterdir() if p.name != "report.md")
    assert {Path(f).suffix for f in files} == {".csv", ".png"}
    for name in files:
        assert f"]({name})" in md, name
    for png in ("energy_cv.png", "energy_accuracy.png", "energy_latency.png", "qq_energy.png"):
        assert png in files
    assert "search-grid" in md and "Missing" in md  # the unmetered search study
    assert "3 round runs are not counted as rounds (" in md
    assert all(f"1 {state}" in md for state in ("FAIL", "RUNNING", "KILLED"))


def test_empty_experiment_says_so_without_figures(store: str, tmp_path: Path) -> None:
    path = run_report(report_cfg(store, fake_store.EMPTY_EXPERIMENT, tmp_path))
    assert "no runs" in path.read_text()
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.csv"))


def test_unknown_experiment_lists_the_existing_ones(store: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="experiments there:.*green"):
        run_report(report_cfg(store, "nope", tmp_path))


def report_cli(store: str, cwd: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    return subprocess.run(
        [sys.executable, "-m", "green_ai.report", *overrides],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_command_line_error_exits_2_on_one_line(store: str, tmp_path: Path) -> None:
    proc = report_cli(store, tmp_path, "tracking.experiment=nope", f"out_dir={tmp_path}/r")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "nope" in lines[0] and "green" in lines[0]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("clusters.method=dbscan", "error: clusters.method='dbscan' is not one of kmeans, median"),
        ("guards.normality_min_n=many", "guards.normality_min_n"),  # Hydra's type check
        ("alpah=0.1", "alpah"),  # a typo of a key
    ],
)
def test_wrong_setting_exits_2_on_one_line_before_reading_runs(
    store: str, tmp_path: Path, override: str, message: str
) -> None:
    proc = report_cli(store, tmp_path, override, f"out_dir={tmp_path}/r")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "r").exists()
