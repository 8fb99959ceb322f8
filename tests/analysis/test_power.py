"""`python -m green_ai.plan`: repetitions per cell from a pilot's observations, checked against
a brute-force simulation of the distribution the pilot was drawn from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from scipy import stats

from green_ai.analysis.power import PowerSettings, plan_table
from green_ai.errors import UserError
from green_ai.plan import run_plan

CONF = Path(__file__).resolve().parents[2] / "conf"
# The truth of the synthetic pilot: a 2×2 factorial, normal energies with these means.
MEANS = {(1, 0): 100.0, (1, 1): 104.0, (4, 0): 150.0, (4, 1): 156.0}
SD = 5.0


def pilot(per_cell: int) -> pd.DataFrame:
    """Observations at evenly spaced quantiles of each cell's distribution: a pilot whose
    resamples are draws from the truth, without a sample's luck."""
    q = stats.norm.ppf((np.arange(per_cell) + 0.5) / per_cell)
    rows = [
        {
            "dataset": "d",
            "conv": conv,
            "relu": relu,
            "config": f"conv{conv} relu{relu}",
            "energy_j": mean + SD * z,
        }
        for (conv, relu), mean in MEANS.items()
        for z in q
    ]
    return pd.DataFrame(rows)


def brute_force(factor: int, power: float, alpha: float, sims: int) -> int:
    """Fewest repetitions per cell at which fresh normal draws from the truth reject, pooled
    over the other factor as the planner pools, in `power` of `sims` experiments."""
    rng = np.random.default_rng(12345)
    for n in range(1, 200):
        levels: dict[int, list[np.ndarray]] = {}
        for cell, mean in MEANS.items():
            levels.setdefault(cell[factor], []).append(rng.normal(mean, SD, (sims, n)))
        groups = [np.concatenate(v, axis=1) for v in levels.values()]
        if np.mean(stats.kruskal(*groups, axis=1).pvalue < alpha) >= power:
            return n
    raise AssertionError("never reached")


@pytest.mark.slow
def test_the_plan_agrees_with_a_brute_force_simulation_within_one_repetition() -> None:
    settings = PowerSettings(power=0.8, alpha=0.05, simulations=2000, seed=0)
    plan = plan_table(pilot(1000), None, settings).set_index("factor")
    for index, factor in enumerate(("conv", "relu")):
        needed = int(plan.loc[factor, "repetitions_needed"])
        assert abs(needed - brute_force(index, 0.8, 0.05, 2000)) <= 1, (factor, needed)
    assert plan.loc["relu", "repetitions_needed"] > plan.loc["conv", "repetitions_needed"]


def test_the_plan_is_reproducible_and_a_smaller_effect_needs_more() -> None:
    settings = PowerSettings(simulations=200, max_repetitions=100)
    points = pilot(40)
    first, again = plan_table(points, None, settings), plan_table(points, None, settings)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.columns[:2]) == ["dataset", "factor"]
    for column in ("effect", "repetitions_needed", "power_at_current"):
        assert column in first.columns
    # A 4 % difference between relu's levels needs more repetitions than a 10 % one.
    small = plan_table(points, 0.04, settings).set_index("factor")
    large = plan_table(points, 0.10, settings).set_index("factor")
    assert large.loc["relu", "repetitions_needed"] < small.loc["relu", "repetitions_needed"]
    assert (large["effect"] == "0.1").all()


def plan_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("plan", overrides=[f"out={tmp_path}/plan.csv", *overrides])
    return cfg


def write_pilot(tmp_path: Path, points: pd.DataFrame) -> Path:
    path = tmp_path / "pilot.csv"
    points.assign(linear=3, accuracy=0.8).drop(columns="config").to_csv(path, index=False)
    return path


def test_plan_writes_its_csv_from_a_tidy_pilot(tmp_path: Path) -> None:
    path = write_pilot(tmp_path, pilot(12))
    plan = run_plan(plan_cfg(tmp_path, f"input={path}", "simulations=100"))
    written = pd.read_csv(tmp_path / "plan.csv")
    assert list(written["factor"]) == list(plan["factor"]) == ["conv", "relu"]
    assert (written["current_repetitions"] == 12).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.drop(columns="energy_j"), "no column `energy_j`"),
        (lambda p: p.assign(conv=1, relu=0), "no factor with two or more levels"),
    ],
)
def test_a_pilot_it_cannot_plan_from_is_one_line_and_writes_nothing(
    tmp_path: Path, change: object, message: str
) -> None:
    points = change(pilot(6))  # type: ignore[operator]
    path = tmp_path / "pilot.csv"
    points.assign(linear=3, accuracy=0.8).drop(columns="config").to_csv(path, index=False)
    with pytest.raises(UserError, match=message) as err:
        run_plan(plan_cfg(tmp_path, f"input={path}"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "plan.csv").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [["effect=big"], ["power=1.5"], ["design.order=foo"]],
    ids=["effect", "power", "unknown-key"],
)
def test_bad_settings_are_one_error_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    path = write_pilot(tmp_path, pilot(6))
    out = subprocess.run(
        [sys.executable, "-m", "green_ai.plan", f"input={path}", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert not (tmp_path / "plan.csv").exists()
