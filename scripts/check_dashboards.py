"""Check the dashboards a person opens after a sweep, in a real headless Chromium.

    python scripts/check_dashboards.py                    # check, and refresh docs/*.png
    python scripts/check_dashboards.py --no-screenshots   # check only

In a fresh directory it runs the README's 2×2 sweep on tiny synthetic settings
(`python -m green_ai.train -m net=simplecnn conv=1,4 relu=0,1 ...`: 256 images, 2 epochs,
3 rounds, energy estimated), then starts `mlflow ui` and `optuna-dashboard` on free local
ports and loads, in Chromium:

- the experiment page the sweep's last line names (training view, the saved green_ai view):
  every cell's run must show its name, best accuracy and joules;
- MLflow's compare page of the four study runs: the same numbers in its metrics table;
- optuna-dashboard's page of one study: the objective is called `accuracy`.

A screenshot of each goes to docs/ (dashboard-mlflow-runs.png, dashboard-mlflow-compare.png,
dashboard-optuna.png). Needs Debian's `chromium` (`apt-get install -y chromium`) and the
`dashboard` extra (`pip install -e '.[dashboard]'`). Exits 1 naming what is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [
    "-m",
    "net=simplecnn",
    "conv=1,4",
    "relu=0,1",
    "dataset=synthetic",
    "dataset.train_samples=256",
    "dataset.test_samples=128",
    "epochs=2",
    "rounds=3",
    "repetitions=1",
    "linear=2",
    "energy=estimate",
    "energy.idle_s=0",
    "warmup_steps=0",
    "progress=log",
]
# Large enough that the UI's virtualised tables render every row and column we look for.
WINDOW = "2400,2600"
BUDGET_MS = 25_000  # Chromium's virtual time for the page's scripts to fetch and render


@dataclass(frozen=True)
class Cell:
    run_id: str
    label: str
    best_accuracy: float
    energy_j: float


# -- the sweep and what MLflow holds --------------------------------------------------------


def run_sweep(workdir: Path) -> str:
    """Run the 2×2 sweep in `workdir`; return its output (the last line names the URL)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, "-m", "green_ai.train", *SWEEP],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise SystemExit(f"the sweep failed:\n{(out.stdout + out.stderr)[-3000:]}")
    return out.stdout


def study_cells(tracking_uri: str) -> tuple[str, list[Cell]]:
    """The experiment id and each study run's name, best accuracy and joules."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("green_ai")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`green_ai.kind` = 'train_study'"
    )
    cells = [
        Cell(
            r.info.run_id,
            r.info.run_name,
            r.data.metrics["best_accuracy"],
            r.data.metrics["energy_j"],
        )
        for r in runs
    ]
    return str(experiment.experiment_id), sorted(cells, key=lambda c: c.label)


# -- servers and the browser ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], cwd: Path, url: str, timeout_s: float = 180) -> subprocess.Popen:
    """Start a server in its own process group and wait until `url` answers."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{command[0]} exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return proc
        except OSError:
            time.sleep(1)
    stop(proc)
    raise SystemExit(f"{' '.join(command)}: no answer at {url} after {timeout_s:.0f} s")


def stop(proc: subprocess.Popen, grace_s: float = 5) -> None:
    """Stop the server's whole process group (mlflow ui's workers ignore SIGTERM)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "no Chromium found: install Debian's `chromium` (apt-get install -y chromium)"
    )


def optuna_dashboard() -> str:
    beside = Path(sys.executable).parent / "optuna-dashboard"
    found = str(beside) if beside.exists() else shutil.which("optuna-dashboard")
    if not found:
        raise SystemExit("no optuna-dashboard: pip install -e '.[dashboard]'")
    return found


def browse(url: str, *, screenshot: Path | None = None, shot_window: str = "1800,800") -> str:
    """The page's DOM after its scripts ran (in a window large enough for every row and
    column); with `screenshot`, also a picture of it in `shot_window`."""
    base = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--virtual-time-budget={BUDGET_MS}",
    ]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        shot = [*base, f"--window-size={shot_window}", f"--screenshot={screenshot}", url]
        subprocess.run(shot, capture_output=True, timeout=180)
    dump = [*base, f"--window-size={WINDOW}", "--dump-dom", url]
    return subprocess.run(dump, capture_output=True, text=True, timeout=180, check=True).stdout


# -- reading the pages ------------------------------------------------------------------------


class _GridCells(HTMLParser):
    """MLflow's runs table (ag-grid): text by (row-id = run id, col-id = column)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}
        self._stack: list[tuple[str | None, str | None]] = []  # (row id, col id) per tag

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        row, col = self._stack[-1] if self._stack else (None, None)
        if a.get("role") == "row" and a.get("row-id"):
            row = a["row-id"]
        if a.get("col-id") and a.get("role") == "gridcell":
            col = a["col-id"]
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._stack.append((row, col))

    def handle_endtag(self, tag: str) -> None:
        if self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._stack and data.strip():
            row, col = self._stack[-1]
            if row and col:
                cell = self.cells.setdefault(row, {})
                cell[col] = (cell.get(col, "") + data).strip()


def runs_table(html: str) -> dict[str, dict[str, str]]:
    parser = _GridCells()
    parser.feed(html)
    return parser.cells


_POSITION = r'style="[^"]*?left: (\d+)px;[^"]*?top: (\d+)px;[^"]*?width: (\d+)px;[^"]*"'


def compare_metrics(html: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
    """MLflow's compare page, Metrics section: value by run and metric. Its two virtualised
    grids place cells absolutely: metric names by `top`, values by (`left`, `top`); columns
    follow the order of the runs in the address."""
    start, end = html.find(">Metrics<"), html.find(">Artifacts<")
    section = html[start:end] if start >= 0 else ""
    names = {
        int(top): name
        for _, top, _, name in re.findall(
            _POSITION + r'><a title="Plot chart"[^>]*>([^<]+)<', section
        )
    }
    out: dict[str, dict[str, str]] = {}
    for left, top, width, value in re.findall(_POSITION + r"><span[^>]*>([^<]*)</span>", section):
        column = int(left) // max(int(width), 1)
        if int(top) in names and column < len(run_ids):
            out.setdefault(run_ids[column], {})[names[int(top)]] = value
    return out


def _close(text: str | None, expected: float) -> bool:
    try:
        value = float(str(text).replace(",", ""))
    except ValueError:
        return False
    # The compare page rounds to three decimals or four significant digits.
    return math.isclose(value, expected, rel_tol=5e-3, abs_tol=5e-4)


def check_runs_page(html: str, cells: list[Cell]) -> list[str]:
    """Each cell's name, best accuracy and joules in its row of the runs table."""
    table = runs_table(html)
    problems = []
    for c in cells:
        row = table.get(c.run_id, {})
        name = row.get("attributes.`Run Name`", "")  # after the run's colour, e.g. #e65b77
        if not name.endswith(c.label):
            problems.append(f"runs page: run {c.run_id} shows name {name!r}, not {c.label!r}")
        for key, expected in (("best_accuracy", c.best_accuracy), ("energy_j", c.energy_j)):
            shown = row.get(f"metrics.`{key}`")
            if not _close(shown, expected):
                problems.append(f"runs page: {c.label} shows {key}={shown!r}, not {expected}")
    return problems


def check_compare_page(html: str, cells: list[Cell]) -> list[str]:
    """Each cell's best accuracy and joules in the compare page's metrics table."""
    table = compare_metrics(html, [c.run_id for c in cells])
    problems = []
    for c in cells:
        row = table.get(c.run_id, {})
        for key, expected in (("best_accuracy", c.best_accuracy), ("energy_j", c.energy_j)):
            if not _close(row.get(key), expected):
                problems.append(f"compare page: {c.label} {key}={row.get(key)!r}, not {expected}")
    return problems


# -- the whole check ----------------------------------------------------------------------------


def check(workdir: Path, shots: Path | None) -> list[str]:
    from green_ai.tracking.ui import compare_url, experiment_url

    print(f"sweep in {workdir} ...", flush=True)
    output = run_sweep(workdir)
    experiment_id, cells = study_cells(f"sqlite:///{workdir}/mlflow.db")
    if experiment_url(experiment_id) not in output:
        return [f"the sweep's output does not name {experiment_url(experiment_id)}"]
    problems: list[str] = []
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ui = start(
        [
            sys.executable,
            "-m",
            "mlflow",
            "ui",
            "--backend-store-uri",
            f"sqlite:///{workdir}/mlflow.db",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        workdir,
        f"{base}/health",
    )
    try:
        page = browse(
            experiment_url(experiment_id, base),
            screenshot=shots / "dashboard-mlflow-runs.png" if shots else None,
        )
        problems += check_runs_page(page, cells)
        page = browse(
            compare_url(experiment_id, [c.run_id for c in cells], base),
            screenshot=shots / "dashboard-mlflow-compare.png" if shots else None,
            shot_window="1800,2300",
        )
        problems += check_compare_page(page, cells)
    finally:
        stop(ui)
    port = free_port()
    dashboard = start(
        [
            optuna_dashboard(),
            f"sqlite:///{workdir}/studies.db",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        workdir,
        f"http://127.0.0.1:{port}/api/studies",
    )
    try:
        page = browse(
            f"http://127.0.0.1:{port}/dashboard/studies/1",
            screenshot=shots / "dashboard-optuna.png" if shots else None,
            shot_window="1600,2400",
        )
        if "accuracy" not in page:
            problems.append("optuna-dashboard: the study's objective is not called accuracy")
    finally:
        stop(dashboard)
    for c in cells:
        print(f"  {c.label:36s} best accuracy {c.best_accuracy:.4f}  {c.energy_j:8.1f} J")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, help="where the sweep runs (default: a temp dir)")
    parser.add_argument("--shots", type=Path, default=ROOT / "docs", help="screenshot folder")
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()
    chromium()  # fail before the sweep when there is no browser or dashboard
    optuna_dashboard()
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="green_ai_dash_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        problems = check(workdir.resolve(), None if args.no_screenshots else args.shots)
    if problems:
        print("\n".join(["dashboards: FAILED", *problems]), file=sys.stderr)
        raise SystemExit(1)
    print("dashboards: every cell's accuracy and joules are on the runs and compare pages")


if __name__ == "__main__":
    main()
