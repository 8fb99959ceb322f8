"""Factorials over any factor: which studies form one and over what (green_ai.analysis.factors),
and the report on a sweep that varied a user's `net.width` and `optimizer` instead of the
thesis's layers (tests/analysis/fake_store.build_custom), from MLflow and from a tidy CSV.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from scipy import stats as sps

from green_ai.analysis import factorial_tables as tables
from green_ai.analysis.factors import find_factorials, parse_overrides
from green_ai.analysis.tidy import read_tidy
from green_ai.config.report import ReportConfig
from green_ai.errors import UserError
from green_ai.report import run_report

from . import fake_store

CONF = Path(__file__).resolve().parents[2] / "conf"
NAN = float("nan")


def study(name: str, overrides: str = "", **kw: object) -> dict[str, object]:
    base = {"study_name": name, "net": "my_lab.models.TinyRes", "conv": NAN, "linear": NAN}
    base |= {"relu": NAN, "dataset": "synthetic", "search": "random", "hparams": "adam3"}
    base |= {"pruner": "none", "epochs": 1, "batch_size": 64, "overrides": overrides}
    return base | kw


def sweep(*cells: tuple[str, str, str], **kw: object) -> list[dict[str, object]]:
    """Studies of `-m net.width=... optimizer=...`: (name, width, optimizer) each."""
    return [
        study(
            n,
            f"net.width={w} optimizer={o} dataset=synthetic",
            **{"net.width": w, "optimizer": o},
            **kw,
        )
        for n, w, o in cells
    ]


# --- which studies, which factors ------------------------------------------------------------


def test_overrides_are_split_into_keys_and_values() -> None:
    text = "+experiment=architecture net.width=4 ++optimizer=sgd ~net.dropout name='a b' x=1=2"
    assert parse_overrides(text) == {
        "experiment": "architecture",
        "net.width": "4",
        "optimizer": "sgd",
        "name": "'a b'",
        "x": "1=2",
    }
    assert parse_overrides(NAN) == {} and parse_overrides("") == {}


def test_factors_are_the_overridden_keys_that_differ() -> None:
    cells = [("a", "4", "adam"), ("b", "16", "adam"), ("c", "4", "sgd"), ("d", "16", "sgd")]
    studies = [*sweep(*cells), study("e", "search=gp_pi", search="gp_pi", optimizer="adam")]
    # Another dataset's study is alike in nothing but its dataset: not in this factorial.
    studies += sweep(("f", "4", "adam"), dataset="cifar10")
    others, factorials = find_factorials(pd.DataFrame(studies))
    assert sorted(others["study_name"]) == ["e", "f"]
    (f,) = factorials
    assert f.factors == ("net.width", "optimizer") and not f.is_thesis
    assert sorted(f.studies["study_name"]) == ["a", "b", "c", "d"]
    # Widths logged as text are levels in number order.
    assert sorted(f.studies["net.width"]) == [4, 4, 16, 16]


def test_a_factor_is_kept_only_where_its_studies_differ_in_it() -> None:
    # optimizer set on every command but always adam: net.width is the only factor.
    studies = sweep(("a", "4", "adam"), ("b", "16", "adam"))
    (f,) = find_factorials(pd.DataFrame(studies))[1]
    assert f.factors == ("net.width",)


def test_runs_with_only_the_tag_give_their_values_from_it() -> None:
    rows = [study(n, f"net.width={w} optimizer=sgd") for n, w in (("a", "4"), ("b", "8"))]
    (f,) = find_factorials(pd.DataFrame(rows))[1]
    assert f.factors == ("net.width",) and list(f.studies["net.width"]) == [4, 8]


def test_thesis_overrides_give_the_thesis_factors() -> None:
    rows = [
        study(
            f"l{li}c{c}r{r}",
            f"+experiment=architecture linear={li} conv={c} relu={r} dataset=synthetic",
            net="simplecnn",
            linear=li,
            conv=c,
            relu=r,
        )
        for li, c, r in itertools.product((3, 7), (1, 4), (0, 1))
    ]
    # The search design beside it varies only keys the search section compares.
    rows += [
        study(f"s{n}", f"net={n} search={s} hparams=adam5", net=n, search=s, hparams="adam5")
        for n, s in itertools.product(("densepoly", "simplecnn"), ("random", "gp_pi"))
    ]
    others, factorials = find_factorials(pd.DataFrame(rows))
    assert len(others) == 4 and len(factorials) == 1
    assert factorials[0].factors == ("linear", "conv", "relu") and factorials[0].is_thesis
    # Only conv differing still names the thesis's three factors (its configuration names).
    (f,) = find_factorials(pd.DataFrame(rows[:2] + rows[4:6]))[1]
    assert f.factors == ("linear", "conv", "relu")


def test_named_factors_split_the_sweep_by_the_other_keys() -> None:
    cells = [("a", "4", "adam"), ("b", "16", "adam"), ("c", "4", "sgd"), ("d", "16", "sgd")]
    _, factorials = find_factorials(pd.DataFrame(sweep(*cells)), ["optimizer"])
    assert [f.label for f in factorials] == [
        "dataset=synthetic, net.width=16",
        "dataset=synthetic, net.width=4",
    ]
    assert all(f.factors == ("optimizer",) for f in factorials)
    assert [sorted(f.studies["study_name"]) for f in factorials] == [["b", "d"], ["a", "c"]]


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        (
            ["width"],
            "factors: no study has a param `width`; the studies' params: batch_size, dataset, "
            "epochs, hparams, net, net.width, optimizer, pruner, search (name factors=[...] "
            "from these)",
        ),
        (["dataset"], "factors=[dataset]: the dataset cannot be a factor"),
        (["accuracy"], "factors=[accuracy]: `accuracy` is a column of the report's own"),
    ],
)
def test_a_factor_no_study_has_is_one_line_listing_the_params(
    factors: list[str], message: str
) -> None:
    studies = pd.DataFrame(sweep(("a", "4", "adam"), ("b", "16", "sgd")))
    with pytest.raises(UserError) as err:
        find_factorials(studies, factors)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_general_configurations_are_named_by_key_and_level() -> None:
    p = pd.DataFrame(
        {
            "group": "g",
            "dataset": "d",
            "net.width": [4, 4, 16, 16],
            "optimizer": ["adam", "sgd", "adam", "sgd"],
            "config": ["w4a", "w4s", "w16a", "w16s"],
            "energy_j": [1.0, 2.0, 3.0, 4.0],
            "accuracy": 0.5,
        }
    )
    assert tables.factor_columns(p) == ["net.width", "optimizer"]
    cv = tables.energy_cv_table(p)
    assert list(cv.columns[:4]) == ["group", "dataset", "net.width", "optimizer"]
    assert list(cv["net.width"]) == ["4", "4", "16", "16"]
    increase = tables.increase_table(p).set_index("factor")
    assert increase.loc["net.width", ["from_level", "to_level"]].tolist() == ["4", "16"]
    assert increase.loc["net.width", "increase_pct"] == pytest.approx((3.5 / 1.5 - 1) * 100)


# --- the report on the custom sweep ----------------------------------------------------------


def report_cfg(out_dir: Path, *extra: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("report", [f"out_dir={out_dir}", *extra])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    fake_store.build_custom(uri)
    yield uri
    mlflow.set_tracking_uri(previous)


def custom_report(store: str, out_dir: Path, *extra: str) -> Path:
    tracking = [f"tracking.uri={store}", f"tracking.experiment={fake_store.CUSTOM_EXPERIMENT}"]
    return run_report(report_cfg(out_dir, *tracking, *extra))


@pytest.fixture(scope="module")
def out(store: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("custom")
    custom_report(store, out_dir)
    return out_dir


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv")


def observations() -> pd.DataFrame:
    rows = [
        {"net.width": w, "optimizer": o, "energy": e, "accuracy": a}
        for w, o in itertools.product(fake_store.WIDTHS, fake_store.OPTIMIZERS)
        for rnd in range(fake_store.FACTORIAL_ROUNDS)
        for e, a in fake_store.custom_reps(w, o, rnd)
    ]
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_kruskal_wallis_on_the_swept_factors(out: Path) -> None:
    table = read(out, "kruskal_wallis").set_index("factor")
    assert list(table.index) == ["net.width", "optimizer"]
    data = observations()
    for factor in ("net.width", "optimizer"):
        ref = sps.kruskal(*[g["energy"] for _, g in data.groupby(factor)])
        assert table.loc[factor, "statistic"] == pytest.approx(ref.statistic)
        assert table.loc[factor, "p"] == pytest.approx(ref.pvalue)
        assert table.loc[factor, "n"] == len(data) and table.loc[factor, "k"] == 2
    assert set(table["group"]) == {"dataset=synthetic"}


@pytest.mark.slow
def test_tables_name_the_factors_and_their_levels(out: Path) -> None:
    cv = read(out, "energy_cv")
    assert list(cv.columns[:4]) == ["group", "dataset", "net.width", "optimizer"]
    assert sorted(zip(cv["net.width"], cv["optimizer"], strict=True)) == sorted(
        itertools.product(fake_store.WIDTHS, fake_store.OPTIMIZERS)
    )
    data = observations()
    cell = data[(data["net.width"] == 16) & (data["optimizer"] == "sgd")]["energy"]
    row = cv[(cv["net.width"] == 16) & (cv["optimizer"] == "sgd")].iloc[0]
    assert row["cv"] == pytest.approx(sps.variation(cell, ddof=1))
    increase = read(out, "energy_increase").set_index("factor")
    means = data.groupby("net.width")["energy"].mean()
    width = increase.loc["net.width"]
    assert (width["from_level"], width["to_level"]) == ("4", "16")
    assert width["increase_pct"] == pytest.approx((means[16] / means[4] - 1) * 100)
    assert tuple(increase.loc["optimizer", ["from_level", "to_level"]]) == ("adam", "sgd")
    dunn = read(out, "dunn")
    assert set(dunn["factor"]) == {"net.width", "optimizer", "config"}
    assert "net.width=16 optimizer=sgd" in set(dunn["a"]) | set(dunn["b"])
    clusters = read(out, "clusters").set_index("cluster")
    assert all("net.width=16" in c for c in clusters.loc["E+", "configs"].split("; "))
    md = (out / "report.md").read_text()
    assert "## Factorial (net.width, optimizer; as thesis §3.5.2" in md
    assert "Architecture factorial" not in md and "per layer factor" not in md
    # The gp_pi study beside the sweep is a search study, not part of the factorial.
    best = read(out, "best_accuracy")
    assert "gp_pi" in set(best["strategy"]) and len(best) == 5


@pytest.mark.slow
def test_named_factors_give_the_same_tables(store: str, out: Path, tmp_path: Path) -> None:
    custom_report(store, tmp_path, "factors=[net.width,optimizer]")
    for name in ("kruskal_wallis", "energy_cv", "dunn", "energy_increase", "clusters"):
        pd.testing.assert_frame_equal(read(tmp_path, name), read(out, name))


@pytest.mark.slow
def test_one_named_factor_is_tested_within_each_width(store: str, tmp_path: Path) -> None:
    custom_report(store, tmp_path, "factors=[optimizer]")
    table = read(tmp_path, "kruskal_wallis").set_index("group")
    assert set(table["factor"]) == {"optimizer"}
    data = observations()
    for width in fake_store.WIDTHS:
        part = data[data["net.width"] == width]
        ref = sps.kruskal(*[g["energy"] for _, g in part.groupby("optimizer")])
        row = table.loc[f"dataset=synthetic, net.width={width}"]
        assert row["statistic"] == pytest.approx(ref.statistic) and row["n"] == len(part)


@pytest.mark.slow
def test_a_factor_no_study_has_exits_2_before_writing(store: str, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.report",
            f"tracking.experiment={fake_store.CUSTOM_EXPERIMENT}",
            "factors=[width,optimizer]",
            f"out_dir={tmp_path}/r",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: factors: no study has a param `width`")
    assert "net.width, optimizer" in lines[0]
    assert not (tmp_path / "r").exists()


# --- the same sweep as a tidy CSV ------------------------------------------------------------


def write_csv(folder: Path) -> Path:
    path = folder / "results.csv"
    pd.DataFrame(fake_store.custom_tidy_rows()).to_csv(path, index=False)
    return path


def test_csv_factor_columns_become_study_params(tmp_path: Path) -> None:
    runs = read_tidy(write_csv(tmp_path), ["net.width", "optimizer"])
    assert len(runs.studies) == 4 and runs.studies["conv"].isna().all()
    assert set(runs.studies["study_name"]) == {
        f"synthetic net.width={w} optimizer={o}"
        for w, o in itertools.product(fake_store.WIDTHS, fake_store.OPTIMIZERS)
    }
    (f,) = find_factorials(runs.studies, ["net.width", "optimizer"])[1]
    assert f.factors == ("net.width", "optimizer")


def test_csv_without_a_named_column_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        read_tidy(write_csv(tmp_path), ["net.depth"])
    assert str(err.value) == (
        "factors: results.csv has no column `net.depth`; its columns: dataset, net.width, "
        "optimizer, round, repetition, energy_j, accuracy (name factors=[...] from these)"
    )


@pytest.mark.slow
def test_csv_gives_the_same_factorial_tables(out: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path)
    csv_out = tmp_path / "report"
    run_report(report_cfg(csv_out, f"input={path}", "factors=[net.width,optimizer]"))
    for name in ("kruskal_wallis", "energy_cv", "dunn", "energy_increase", "clusters"):
        pd.testing.assert_frame_equal(read(csv_out, name), read(out, name))


def test_named_factors_are_checked_as_settings() -> None:
    with pytest.raises(UserError, match=r"^factors=\[a,a\]: a named twice"):
        ReportConfig(factors=["a", "a"])
    with pytest.raises(UserError, match="a factor name is empty"):
        ReportConfig(factors=[""])
    assert ReportConfig(factors=["net.width"]).factors == ["net.width"]
