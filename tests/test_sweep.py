"""A multirun as a person follows it: "job 2/4" on every line, and a table of its jobs at the
end, also as summary.csv — under the basic launcher, joblib and submitit alike."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from search.workers import train

from green_ai.search.events import StudyDone, StudyOutcome
from green_ai.sweep import (
    JOB_FILE,
    SUMMARY_FILE,
    SWEEP_FILE,
    JobInfo,
    JobSummary,
    JobSummaryObserver,
    SweepSummary,
    cells_of_waves,
    format_table,
    read_job_summaries,
    table_rows,
    varying_keys,
    write_job_summary,
)

TINY = [
    "dataset=synthetic",
    "dataset.train_samples=128",
    "dataset.test_samples=64",
    "epochs=1",
    "rounds=1",
    "repetitions=1",
    "batch_size=64",
    "linear=2",
    "energy=estimate",
    "energy.idle_s=0",
    "warmup_steps=0",
    "progress=log",
]


def summary(job: int, cell: str, accuracy: float | None, joules: float | None) -> JobSummary:
    return JobSummary(
        job=job,
        cell=cell,
        rounds=2,
        best_accuracy=accuracy,
        energy_j=joules,
        duration_s=75.0,
        study_name=f"study-{job}",
        stop_reason="2 rounds completed",
        experiment_id="1",
        mlflow_run_id=f"run{job}",
        tracking_uri="sqlite:////tmp/mlflow.db",
    )


def test_varying_keys_are_those_whose_values_differ() -> None:
    jobs = [
        ["net=simplecnn", "conv=1", "relu=0", "+seed=1"],
        ["net=simplecnn", "conv=1", "relu=1", "+seed=1"],
        ["net=simplecnn", "conv=4", "relu=0", "+seed=1"],
    ]
    assert varying_keys(jobs) == ["conv", "relu"]
    assert varying_keys([]) == []


def test_the_table_has_a_row_per_job_and_joules_per_point(tmp_path: Path) -> None:
    for n, (acc, joules) in enumerate([(0.5, 100.0), (0.8, None)], start=1):
        job = JobInfo(number=n, total=3, output_dir=tmp_path / str(n - 1))
        assert write_job_summary(job, summary(n, f"conv{n} relu0", acc, joules)) is not None
    assert write_job_summary(JobInfo(), summary(9, "x", 0.1, 1.0)) is None  # not a multirun
    rows = read_job_summaries(tmp_path)
    assert [r.job for r in rows] == [1, 2]
    assert rows[0].energy_per_point_j == pytest.approx(100.0 / 50)
    cells = table_rows(rows, jobs=3)
    assert cells[0] == ["1", "conv1 relu0", "2", "0.5000", "100.0", "2", "1m15s"]
    assert cells[1][4:6] == ["n/a", "n/a"]  # no joules measured: never a fake 0
    assert cells[2][1].startswith("no result")
    text = format_table(cells)
    header, rule, *body = text.splitlines()
    assert header.split() == [
        "job",
        "cell",
        "rounds",
        "best",
        "accuracy",
        "joules",
        "J/point",
        "time",
    ]
    assert len(body) == 3 and len({len(rule), len(header)}) == 1


def test_a_job_leaves_its_row_when_its_study_ends(tmp_path: Path) -> None:
    job = JobInfo(number=2, total=4, output_dir=tmp_path / "1")
    observer = JobSummaryObserver(job, label="conv4 relu1", tracking_uri="sqlite:///m.db")
    attrs = {"mlflow_run_id": "r2", "mlflow_experiment_id": "7"}
    outcome = StudyOutcome("s2", 0.75, 2, 1, "2 rounds completed", 30.0, attrs=attrs)
    # A study that broke leaves no row: the table says `no result` for its job.
    observer.study_done(StudyDone("FAILED", "RuntimeError: x", {}, None, None))
    assert read_job_summaries(tmp_path) == []
    observer.study_done(StudyDone("FINISHED", outcome.stop_reason, {}, None, outcome))
    (row,) = read_job_summaries(tmp_path)
    assert (row.job, row.cell, row.rounds, row.best_accuracy, row.energy_j) == (
        2,
        "conv4 relu1",
        2,
        0.75,
        30.0,
    )
    assert (row.mlflow_run_id, row.experiment_id, row.tracking_uri) == (
        "r2",
        "7",
        "sqlite:///m.db",
    )
    assert row.study_name == "s2" and 0 <= row.duration_s < 60
    # Outside a multirun a study leaves nothing.
    alone = tmp_path / "alone"
    JobSummaryObserver(JobInfo(output_dir=alone), label="x").study_done(
        StudyDone("FINISHED", outcome.stop_reason, {}, None, outcome)
    )
    assert not alone.exists()


def test_the_callback_writes_the_csv_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A job file left by an earlier sweep in the same directory is not this sweep's.
    stale = JobInfo(number=3, total=3, output_dir=tmp_path / "2")
    old = write_job_summary(stale, summary(3, "conv9", 0.1, 1.0))
    assert old is not None
    os.utime(old, (1_000_000, 1_000_000))
    (tmp_path / SWEEP_FILE).write_text(json.dumps({"jobs": 2, "varying": ["conv"]}))
    for n in (1, 2):
        write_job_summary(
            JobInfo(number=n, total=2, output_dir=tmp_path / str(n - 1)),
            summary(n, f"conv{n}", 0.5, 10.0 * n),
        )
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    SweepSummary().on_multirun_end(config)
    out = capsys.readouterr().out
    assert "conv1" in out and "conv2" in out and "J/point" in out and "conv9" not in out
    with (tmp_path / SUMMARY_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert [r["cell"] for r in rows] == ["conv1", "conv2"]
    assert float(rows[1]["energy_per_point_j"]) == pytest.approx(20.0 / 50)


def test_a_requeued_job_counts_its_attempts_and_their_time(tmp_path: Path) -> None:
    from green_ai.cluster.job import record_attempt

    (tmp_path / SWEEP_FILE).write_text(json.dumps({"jobs": 2, "varying": ["conv"]}))
    for n in (1, 2):
        job = JobInfo(number=n, total=2, output_dir=tmp_path / str(n - 1))
        write_job_summary(job, summary(n, f"conv{n}", 0.5, 10.0))
    # Job 2 was requeued twice: 30 s and 45 s before the attempt that finished (75 s).
    for seconds in (30.0, 45.0):
        record_attempt(tmp_path / ".submitit" / "7_1", 2, seconds)
    first, second = read_job_summaries(tmp_path)
    assert (first.attempts, first.duration_s) == (1, 75.0)
    assert (second.attempts, second.duration_s) == (3, 150.0)
    assert table_rows([first, second])[1][-1] == "2m30s (3 attempts)"
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})
    SweepSummary().on_multirun_end(config)
    with (tmp_path / SUMMARY_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["attempts"], float(r["duration_s"])) for r in rows] == [("1", 75.0), ("3", 150.0)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher",
    [
        [],
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20"],
    ],
    ids=["basic", "joblib", "submitit_local"],
)
def test_a_sweep_ends_with_its_table_under_every_launcher(
    tmp_path: Path, launcher: list[str]
) -> None:
    out = train(tmp_path, "-m", *launcher, "conv=1,4", *TINY)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    (sweep_dir,) = {p.parent for p in tmp_path.glob(f"multirun/*/*/{SWEEP_FILE}")}
    assert json.loads((sweep_dir / SWEEP_FILE).read_text()) == {"jobs": 2, "varying": ["conv"]}
    with (sweep_dir / SUMMARY_FILE).open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["job"], r["cell"]) for r in rows] == [
        ("1", "conv1 relu1 lin2 simplecnn random"),
        ("2", "conv4 relu1 lin2 simplecnn random"),
    ]
    assert all(float(r["energy_j"]) > 0 and 0 <= float(r["best_accuracy"]) <= 1 for r in rows)
    assert len(list(sweep_dir.glob(f"*/{JOB_FILE}"))) == 2
    # The table is printed by the launching process, whichever process ran the jobs.
    assert "J/point" in out.stdout and "conv4 relu1 lin2 simplecnn random" in out.stdout
    if not launcher:  # the other launchers keep the jobs' own output in their log files
        assert "job 2/2 starting conv4 relu1" in out.stdout
    # No set-up chatter from MLflow, alembic or the launcher plugins.
    for noise in ("Creating initial MLflow", "alembic", "Joblib.Parallel", "ExperimentalWarning"):
        assert noise not in text, noise


def test_an_ordered_sweeps_cell_counts_the_time_and_requeues_of_all_its_jobs() -> None:
    # Jobs 1 and 3 ran cell 1's rounds, job 2 cell 2's; SLURM requeued job 1 once.
    schedule = [[1, 1], [2, 1], [1, 2]]
    first = dataclasses.replace(summary(1, "conv1", 0.5, 10.0), attempts=2)
    rows = [first, summary(2, "conv4", 0.4, 20.0), summary(3, "conv1", 0.6, 12.0)]
    merged = {r.job: r for r in cells_of_waves(rows, schedule)}
    assert sorted(merged) == [1, 2]
    assert merged[1].study_name == "study-3"  # the cell's latest job
    assert (merged[1].duration_s, merged[1].attempts) == (150.0, 2)
    assert (merged[2].duration_s, merged[2].attempts) == (75.0, 1)
