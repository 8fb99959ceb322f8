"""`design.order`: a sweep's rounds in sequence, round-robin or a seeded random order, under
the basic launcher and joblib, as a user runs it (`python -m green_ai.train -m ...`)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from scipy import stats

from green_ai.schedule import round_order

from .drifting import write_backend

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
TINY = [
    "dataset=synthetic",
    "dataset.train_samples=64",
    "dataset.test_samples=32",
    "epochs=1",
    "repetitions=1",
    "batch_size=64",
    "conv=1",
    "linear=2",
    "warmup_steps=1",
    "progress=log",
]


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m green_ai.train ARGS` as a user runs it; the tests' modules importable (the
    drifting sensor's factory)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS)}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, "-m", "green_ai.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    return out


def round_energies(storage: str) -> dict[int, list[float]]:
    """Each study's rounds' joules, by the study's seed."""
    by_seed = {}
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        by_seed[int(study.user_attrs["seed"])] = [t.user_attrs["energy_j"] for t in trials]
    return by_seed


def report_into(out_dir: Path) -> None:
    """`python -m green_ai.report` on the tracked runs of out_dir's parent, into out_dir."""
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.report",
            "tracking.experiment=green_ai",
            f"out_dir={out_dir.name}",
        ],
        cwd=out_dir.parent,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-3000:]


@pytest.mark.parametrize("order", ["sequential", "randomized"])
def test_a_drifting_sensor_confounds_cells_run_in_sequence_not_in_random_order(
    tmp_path: Path, order: str
) -> None:
    # Four cells of identical settings (the seed changes no cost) on a sensor whose power
    # doubles every second: a drift far above the rounds' own spread (their durations vary with
    # the machine's load). design.seed=3 spreads cells 1 and 4 alike over the sweep (checked).
    rounds, seed = 5, 3
    if order == "randomized":
        launches = round_order([rounds] * 4, order, seed)
        first = [x.position for x in launches if x.cell == 0]
        last = [x.position for x in launches if x.cell == 3]
        assert stats.mannwhitneyu(first, last).pvalue > 0.5
    search = write_backend(tmp_path / "conf", idle_w=1.0, doubling_s=1.0)
    train(
        tmp_path,
        "-m",
        *TINY,
        "seed=1,2,3,4",
        f"rounds={rounds}",
        "energy=drifting",
        "energy.idle_s=0",
        f"hydra.searchpath=[file://{search}]",
        f"design.order={order}",
        f"design.seed={seed}",
    )
    energies = round_energies(f"sqlite:///{tmp_path}/studies.db")
    assert sorted(energies) == [1, 2, 3, 4] and all(len(e) == rounds for e in energies.values())
    p = stats.mannwhitneyu(energies[1], energies[4]).pvalue
    if order == "sequential":
        assert p < 0.05 and max(energies[1]) < min(energies[4]), energies
    else:
        assert p > 0.05, energies
    # The report tests the drift within the cells: in random order it finds it against the
    # sweep's position; in sequence (no position logged, the order the rounds started in) a
    # cell's few rounds span too little of it, and the drift hides in the cells' differences.
    report_into(tmp_path / "rep")
    with (tmp_path / "rep" / "energy_drift.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    if order == "sequential":
        assert row["against"] == "start_order" and int(row["n"]) == 4 * rounds
    else:
        assert (row["against"], row["significant"]) == ("sweep_position", "yes")
        assert "**Energy drifts**: it rises with" in (tmp_path / "rep" / "report.md").read_text()


def test_interleaved_under_joblib_with_fewer_workers_than_cells(tmp_path: Path) -> None:
    rounds = 3
    out = train(
        tmp_path,
        "-m",
        *TINY,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "conv=1,4",
        "relu=0,1",
        f"rounds={rounds}",
        "energy=estimate",
        "energy.idle_s=0.2",
        "design.order=interleaved",
    )
    (sweep_dir,) = {p.parent for p in tmp_path.glob("multirun/*/*/sweep.json")}
    info = json.loads((sweep_dir / "sweep.json").read_text())
    # Round-robin: every cell's round 1, then every cell's round 2, ...
    assert info["schedule"] == [[c, k] for k in (1, 2, 3) for c in (1, 2, 3, 4)]
    assert "design.order=interleaved design.seed=0: 4 cells, 12 rounds in 3 waves" in out.stdout
    with (sweep_dir / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    # The table has a line per cell, each with all its rounds.
    assert [r["job"] for r in rows] == ["1", "2", "3", "4"]
    assert {r["rounds"] for r in rows} == {str(rounds)} and len({r["cell"] for r in rows}) == 4
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    (exp,) = [e for e in client.search_experiments() if e.name == "green_ai"]
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags["green_ai.kind"] == "train_study"]
    children = [r for r in runs if r.data.tags["green_ai.kind"] == "train_round"]
    assert len(parents) == 4 and len(children) == 4 * rounds  # one parent per cell, resumed
    for parent in parents:
        assert parent.data.params["design.order"] == "interleaved"
        assert parent.data.params["design.seed"] == "0"
        assert parent.data.params["rounds"] == str(rounds)
        assert not any(k.startswith("design.sweep_") for k in parent.data.params)
    # Each round says where it ran; round k of every cell ran in wave k.
    positions = sorted(int(r.data.metrics["sweep_position"]) for r in children)
    assert positions == list(range(4 * rounds))
    for r in children:
        assert int(r.data.metrics["sweep_position"]) // 4 == int(r.data.tags["round"])


def test_warm_up_and_idle_baseline_once_per_process_not_per_round(tmp_path: Path) -> None:
    # Basic launcher: every job runs in this one process. The drifting sensor's idle power
    # rises, so a baseline measured again would differ.
    search = write_backend(tmp_path / "conf", idle_w=10.0, drift_w_per_s=5.0)
    out = train(
        tmp_path,
        "-m",
        *TINY,
        "conv=1,4",
        "rounds=3",
        "energy=drifting",
        "energy.idle_s=0.2",
        "energy.settle_s=0",
        f"hydra.searchpath=[file://{search}]",
        "design.order=randomized",
    )
    # Warmed up once per cell (2), not per round (6).
    assert out.stdout.count("warmed up in") == 2, out.stdout[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    (exp,) = [e for e in client.search_experiments() if e.name == "green_ai"]
    idle = {
        r.data.metrics["idle_power_w"]
        for r in client.search_runs([exp.experiment_id], "tags.`green_ai.kind` = 'train_study'")
    }
    assert len(idle) == 1 and 10.0 < idle.pop() < 60.0


def test_a_killed_ordered_sweep_rerun_goes_on_in_the_same_order(tmp_path: Path) -> None:
    import signal
    import time

    rounds, seed = 3, 5
    args = [*TINY, "seed=1,2,3", f"rounds={rounds}", "energy=none", "design.order=randomized"]
    args += [f"design.seed={seed}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "green_ai.train", "-m", *args]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    storage = f"sqlite:///{tmp_path}/studies.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        try:
            summaries = optuna.get_all_study_summaries(storage)
        except Exception:  # the store is still being created
            continue
        if sum(s.n_trials for s in summaries) >= 4:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode != 0  # it was cut short
    train(tmp_path, "-m", *args)
    planned = round_order([rounds] * 3, "randomized", seed)
    for summary in optuna.get_all_study_summaries(storage):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        cell = int(study.user_attrs["seed"]) - 1
        done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        done.sort(key=lambda t: t.number)
        assert [t.user_attrs["sweep_position"] for t in done] == [
            x.position for x in planned if x.cell == cell
        ]


@pytest.mark.parametrize(
    "args",
    [["design.order=foo"], ["design.order=randomized", "design.seed=1,2"]],
    ids=["unknown-order", "seed-varies"],
)
def test_a_bad_order_is_one_error_line_and_no_sweep(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [sys.executable, "-m", "green_ai.train", "-m", *TINY, "conv=1,4", "energy=none", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert ("design.order='foo' is not one of" in lines[0]) or "design.seed cannot vary" in lines[
        0
    ]
    assert not (tmp_path / "multirun").exists()


def test_the_report_of_an_ordered_sweep_tests_energy_against_the_position(
    tmp_path: Path,
) -> None:
    train(
        tmp_path,
        "-m",
        *TINY,
        "conv=1,4",
        "rounds=3",
        "energy=estimate",
        "energy.idle_s=0",
        "design.order=randomized",
    )
    report_into(tmp_path / "rep")
    text = (tmp_path / "rep" / "report.md").read_text()
    # TINY runs one repetition per round: no round has an interval, and the report says so.
    assert "2 studies ran one repetition per round" in text and "no confidence interval" in text
    with (tmp_path / "rep" / "energy_drift.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["against"] == "sweep_position" and int(row["n"]) == 6
    assert "energy_intervals" in text and "eta2_ci_low" in text
