"""scripts/check_dashboards.py: how it reads MLflow's pages, and (slow) the whole check in a
real headless Chromium — the 2×2 sweep's accuracy and joules on the runs and compare pages."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_dashboards.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_dashboards", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_dashboards"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# The shapes of MLflow 3.17's pages, cut down: ag-grid rows and cells in the runs table...
RUNS_PAGE = """
<div role="row" row-id="r1"><div role="gridcell" col-id="attributes.`Run Name`">
  <input type="color" value="#e65b77"><a>#e65b77</a><a>conv1 relu0 lin2</a></div>
  <div role="gridcell" col-id="metrics.`best_accuracy`"><span>0.3671875</span></div>
  <div role="gridcell" col-id="metrics.`energy_j`"><span>27.29612</span></div></div>
<div role="row" row-id="r2"><div role="gridcell" col-id="attributes.`Run Name`">conv4 relu1</div>
  <div role="gridcell" col-id="metrics.`best_accuracy`">0.5</div></div>
"""
# ... and the compare page's two virtualised grids, placed by left/top.
CELL = (
    '<div class="c" style="height: 45px; left: {l}px; position: absolute; top: {t}px; '
    'width: 308px;">'
)
COMPARE_PAGE = (
    ">Metrics<"
    + CELL.format(l=0, t=0)
    + '<a title="Plot chart" href="#">best_accuracy<i></i></a></div>'
    + CELL.format(l=0, t=45)
    + '<a title="Plot chart" href="#">energy_j<i></i></a></div>'
    + "".join(
        CELL.format(l=308 * col, t=45 * row)
        + f'<span tooltip-data-state="closed">{v}</span></div>'
        for row, values in enumerate([("0.367", "0.5"), ("27.3", "8.1")])
        for col, v in enumerate(values)
    )
    + ">Artifacts<"
)


def test_the_runs_table_is_read_cell_by_cell() -> None:
    m = load()
    table = m.runs_table(RUNS_PAGE)
    assert table["r1"]["metrics.`best_accuracy`"] == "0.3671875"
    cells = [
        m.Cell("r1", "conv1 relu0 lin2", 0.3671875, 27.29612),
        m.Cell("r2", "conv4 relu1", 0.5, 8.1),
    ]
    # r2 shows no joules: that is reported, r1 is complete.
    assert m.check_runs_page(RUNS_PAGE, cells) == [
        "runs page: conv4 relu1 shows energy_j=None, not 8.1"
    ]


def test_the_compare_table_is_read_by_position() -> None:
    m = load()
    table = m.compare_metrics(COMPARE_PAGE, ["r1", "r2"])
    assert table == {
        "r1": {"best_accuracy": "0.367", "energy_j": "27.3"},
        "r2": {"best_accuracy": "0.5", "energy_j": "8.1"},
    }
    good = [m.Cell("r1", "a", 0.3671875, 27.296), m.Cell("r2", "b", 0.5, 8.1)]
    assert m.check_compare_page(COMPARE_PAGE, good) == []
    wrong = [m.Cell("r1", "a", 0.9, 27.296), m.Cell("r2", "b", 0.5, 8.1)]
    assert m.check_compare_page(COMPARE_PAGE, wrong) == [
        "compare page: a best_accuracy='0.367', not 0.9"
    ]


@pytest.mark.slow
def test_the_dashboards_show_accuracy_and_joules_in_a_real_browser(tmp_path: Path) -> None:
    """Needs Debian's chromium (CI installs it) and optuna-dashboard (the dev extra)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-screenshots", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "every cell's accuracy and joules are on the runs and compare pages" in out.stdout
