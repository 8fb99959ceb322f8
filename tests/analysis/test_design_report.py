"""The report's intervals and drift tests: each configuration's mean energy with its interval,
η² with a bootstrap interval, and what it says of a device that heats up over a sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from green_ai.analysis import stats
from green_ai.analysis.factorial_tables import kruskal_table
from green_ai.analysis.tidy import read_tidy
from green_ai.analysis.writer import write_report
from green_ai.config.report import ReportConfig
from green_ai.errors import UserError


def test_the_t_interval_covers_a_known_mean_at_least_90_of_100_times() -> None:
    covered = 0
    for seed in range(100):
        x = np.random.default_rng(seed).normal(50.0, 4.0, 6)
        low, high = stats.mean_interval(x, 0.95)
        covered += low <= 50.0 <= high
        half = sps.t.ppf(0.975, 5) * x.std(ddof=1) / np.sqrt(6)
        assert (low, high) == pytest.approx((x.mean() - half, x.mean() + half))
    assert covered >= 90
    assert all(np.isnan(stats.mean_interval([3.0], 0.95)))  # one value: no interval


def test_eta2_gets_a_reproducible_bootstrap_interval_around_it() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "group": "g",
            "dataset": "d",
            "config": "c",
            "conv": np.repeat([1, 4], 20),
            "energy_j": np.concatenate([rng.normal(100, 5, 20), rng.normal(110, 5, 20)]),
        }
    )
    table = kruskal_table(frame, 5, 0.95)
    row = table.iloc[0]
    assert row["eta2_ci_low"] < row["eta2"] < row["eta2_ci_high"]
    again = kruskal_table(frame, 5, 0.95).iloc[0]
    assert (again["eta2_ci_low"], again["eta2_ci_high"]) == (
        row["eta2_ci_low"],
        row["eta2_ci_high"],
    )
    # Levels that do not overlap: resampling makes ties but never changes the ranks, so the
    # interval is η² itself, not above it.
    apart = frame.assign(energy_j=np.where(frame["conv"] == 4, 200.0, 100.0) + frame.index)
    split = kruskal_table(apart, 5, 0.95).iloc[0]
    assert split["eta2_ci_low"] == pytest.approx(split["eta2"])
    assert split["eta2_ci_high"] == pytest.approx(split["eta2"])
    narrow = kruskal_table(frame, 5, 0.5).iloc[0]
    assert (
        narrow["eta2_ci_high"] - narrow["eta2_ci_low"] < row["eta2_ci_high"] - row["eta2_ci_low"]
    )


def sweep_csv(tmp_path: Path, *, heating: bool, reps: int = 2) -> Path:
    """A 2×2 sweep of 6 rounds per cell run in a random order; a heating GPU starts each
    later round warmer, and warmer rounds cost more joules."""
    rng = np.random.default_rng(1)
    cells = [(conv, relu) for conv in (1, 4) for relu in (0, 1)]
    order = rng.permutation([c for c in range(4) for _ in range(6)])
    done = [0] * 4
    lines = [
        "dataset,conv,linear,relu,energy_j,accuracy,round,repetition,sweep_position,temp_c_start"
    ]
    for position, c in enumerate(order):
        conv, relu = cells[c]
        temp = 40 + 1.5 * position if heating else 55 + rng.normal(0, 1)
        for rep in range(reps):
            joules = 100 * conv * (1 + 0.01 * (temp - 40)) * (1 + 0.02 * rng.normal())
            lines.append(f"fmnist,{conv},3,{relu},{joules},0.8,{done[c]},{rep},{position},{temp}")
        done[c] += 1
    path = tmp_path / "sweep.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("heating", [True, False])
def test_the_report_says_when_the_device_heats_up_and_energy_drifts(
    tmp_path: Path, heating: bool
) -> None:
    out = tmp_path / "report"
    path = write_report(read_tidy(sweep_csv(tmp_path, heating=heating)), ReportConfig(), out)
    text = path.read_text()
    drift = pd.read_csv(out / "energy_drift.csv").set_index("against")
    assert (out / "energy_drift.png").exists()
    if heating:
        assert "**The device heats up**: `temp_c_start` rises over the rounds" in text
        assert drift.loc["temp_c_start", "significant"] == "yes"
        assert drift.loc["sweep_position", "rho"] > 0.5
        assert "**Energy drifts**: it rises with the device's temperature" in text
    else:
        assert "heats up" not in text and "**Energy drifts**" not in text
        assert (drift["significant"] == "no").all()
        assert "No significant drift of energy with position in the sweep" in text
    intervals = pd.read_csv(out / "energy_intervals.csv")
    assert len(intervals) == 4 and (intervals["n"] == 12).all()
    assert (intervals["ci_low_j"] < intervals["mean_energy_j"]).all()
    assert (intervals["mean_energy_j"] < intervals["ci_high_j"]).all()
    kruskal = pd.read_csv(out / "kruskal_wallis.csv")
    assert {"eta2_ci_low", "eta2_ci_high"} <= set(kruskal.columns)


@pytest.mark.slow
def test_a_configuration_of_one_observation_has_no_interval_and_the_report_says_so(
    tmp_path: Path,
) -> None:
    path = tmp_path / "one.csv"
    rows = ["dataset,conv,linear,relu,energy_j,accuracy"]
    rows += [f"d,{conv},3,0,{100 * conv + i},0.8" for conv in (1, 4) for i in range(3)]
    rows += ["d,1,3,1,120,0.8", "d,4,3,1,430,0.8", "d,4,3,1,431,0.8"]
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "report"
    text = write_report(read_tidy(path), ReportConfig(), out).read_text()
    assert "no interval for 1 configurations with a single observation (lin3 conv1 relu1)" in text
    intervals = pd.read_csv(out / "energy_intervals.csv").set_index("config")
    assert np.isnan(intervals.loc["lin3 conv1 relu1", "ci_low_j"])


def test_the_report_checks_its_confidence_level() -> None:
    from green_ai.config.design import DesignConfig

    with pytest.raises(UserError, match="design.confidence=1.5"):
        ReportConfig(design=DesignConfig(confidence=1.5))
