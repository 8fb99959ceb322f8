"""A multirun's jobs as a person follows them: "job 2/4", and a summary table at the end.

Jobs may run in other processes or on other machines (joblib, submitit), so they share what
they need through files in the sweep directory, which every launcher gives them:

- `sweep.json`, written by `SweepSummary.on_multirun_start` before any job starts: how many
  jobs the sweep has and which overrides vary across them (run names put those first);
- `job_summary.json` in each job's own directory, written when the job's study ends by its
  `JobSummaryObserver` (green_ai.search.events);
- `summary.csv`, written by `SweepSummary.on_multirun_end` from those, as the table it prints
  (or by a launcher whose jobs failed, for the jobs that finished: `print_summary`);
- `attempts.json`, left by a job that SLURM requeued (green_ai.cluster.job): the summary
  counts every attempt of a job and its time over all of them.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from green_ai.columns import aligned
from green_ai.search.events import Observer, StudyDone

log = logging.getLogger("green_ai")

SWEEP_FILE = "sweep.json"
JOB_FILE = "job_summary.json"
SUMMARY_FILE = "summary.csv"
ATTEMPTS_FILE = "attempts.json"


@dataclass(frozen=True)
class JobInfo:
    """This Hydra job: its number (1-based) and the sweep's size when it is one of a multirun,
    its overrides, the overrides that vary across the sweep, and its output directory."""

    number: int | None = None
    total: int | None = None
    overrides: list[str] = field(default_factory=list)
    varying: list[str] = field(default_factory=list)
    output_dir: Path | None = None

    @property
    def tag(self) -> str:
        """`job 2/4` in a multirun (`job 2` when the size is unknown), else ''."""
        if self.number is None:
            return ""
        return f"job {self.number}/{self.total}" if self.total else f"job {self.number}"


def current_job() -> JobInfo:
    """The running Hydra job (an empty `JobInfo` outside Hydra, e.g. in tests)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        hc = HydraConfig.get()
    except ValueError:
        return JobInfo()
    overrides = [str(o) for o in hc.overrides.task]
    output_dir = Path(str(hc.runtime.output_dir)) if hc.runtime.output_dir else None
    if hc.mode != RunMode.MULTIRUN:
        return JobInfo(overrides=overrides, output_dir=output_dir)
    sweep = _read_json(Path(str(hc.sweep.dir)) / SWEEP_FILE)
    return JobInfo(
        number=int(hc.job.num) + 1,
        # An ordered sweep (green_ai.schedule) launches a job per round: count those.
        total=sweep.get("launches", sweep.get("jobs")),
        overrides=overrides,
        varying=list(sweep.get("varying", [])),
        output_dir=output_dir,
    )


def varying_keys(jobs: Sequence[Sequence[str]]) -> list[str]:
    """The override keys whose values differ between `jobs`, in command-line order."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for override in job:
            key, _, value = override.partition("=")
            values.setdefault(key.lstrip("+~"), set()).add(value)
    return [k for k, v in values.items() if len(v) > 1]


@dataclass(frozen=True)
class JobSummary:
    """One row of the sweep's table: a job's study as it ended."""

    job: int | None
    cell: str
    rounds: int
    best_accuracy: float | None
    energy_j: float | None
    duration_s: float
    study_name: str
    stop_reason: str | None
    experiment_id: str
    mlflow_run_id: str
    tracking_uri: str = ""
    # The metric `best_accuracy` holds the best value of (accuracy unless the study
    # optimised another: search.objectives).
    objective: str = "accuracy"
    # The job's runs: more than one when SLURM requeued it (`duration_s` counts them all).
    attempts: int = 1

    @property
    def energy_per_point_j(self) -> float | None:
        """Joules per percentage point of best accuracy: what a point of accuracy cost; for
        another objective, joules per unit of its best value."""
        if self.objective != "accuracy":
            if self.energy_j is None or not self.best_accuracy:
                return None
            return self.energy_j / abs(self.best_accuracy)
        return energy_per_point(self.energy_j, self.best_accuracy)


def energy_per_point(energy_j: float | None, accuracy: float | None) -> float | None:
    if energy_j is None or not accuracy:
        return None
    return energy_j / (100.0 * accuracy)


def write_job_summary(job: JobInfo, summary: JobSummary) -> Path | None:
    """Leave the job's row in its output directory (multiruns only); return the file."""
    if job.number is None or job.output_dir is None:
        return None
    job.output_dir.mkdir(parents=True, exist_ok=True)
    path = job.output_dir / JOB_FILE
    path.write_text(json.dumps(asdict(summary), indent=1))
    return path


class JobSummaryObserver(Observer):
    """Leaves the job's row when its study ends (multiruns only: see `write_job_summary`);
    `label` is the study's cell, `tracking_uri` the MLflow store its run is in. The job's
    time counts from this observer's making, as the app makes it when the job starts."""

    def __init__(self, job: JobInfo, *, label: str, tracking_uri: str = "") -> None:
        self.job = job
        self.label = label
        self.tracking_uri = tracking_uri
        self.started = time.perf_counter()

    def study_done(self, event: StudyDone) -> None:
        outcome = event.outcome
        if outcome is None:  # it broke: the table says `no result` for this job
            return
        summary = JobSummary(
            job=self.job.number,
            cell=self.label,
            rounds=outcome.rounds_completed,
            best_accuracy=outcome.best_accuracy,
            energy_j=outcome.energy_j,
            duration_s=time.perf_counter() - self.started,
            study_name=outcome.study_name,
            stop_reason=outcome.stop_reason,
            experiment_id=outcome.experiment_id,
            mlflow_run_id=outcome.parent_run_id,
            tracking_uri=self.tracking_uri,
            objective=outcome.objective,
        )
        write_job_summary(self.job, summary)


def read_job_summaries(sweep_dir: Path, since: float | None = None) -> list[JobSummary]:
    """The rows the jobs left under `sweep_dir`, in job order; with `since` (a time stamp),
    only files written after it (a sweep directory used again keeps older jobs' files)."""
    rows = []
    for path in sweep_dir.glob(f"**/{JOB_FILE}"):
        if since is not None and path.stat().st_mtime < since:
            continue
        data = _read_json(path)
        if data:
            rows.append(JobSummary(**data))
    rows = with_attempts(rows, read_attempts(sweep_dir, since))
    return sorted(rows, key=lambda r: (r.job is None, r.job or 0))


def read_attempts(sweep_dir: Path, since: float | None = None) -> dict[int, list[float]]:
    """The earlier attempts' durations of each requeued job, by job number."""
    found: dict[int, list[float]] = {}
    for path in sweep_dir.glob(f"**/{ATTEMPTS_FILE}"):
        if since is not None and path.stat().st_mtime < since:
            continue
        data = _read_json(path)
        if isinstance(data.get("job"), int):
            found.setdefault(data["job"], []).extend(float(s) for s in data.get("seconds", []))
    return found


def with_attempts(rows: Sequence[JobSummary], earlier: dict[int, list[float]]) -> list[JobSummary]:
    """`rows` with the earlier attempts of requeued jobs counted in, attempts and time."""
    out = []
    for r in rows:
        before = earlier.get(r.job, []) if r.job is not None else []
        out.append(
            replace(r, attempts=r.attempts + len(before), duration_s=r.duration_s + sum(before))
        )
    return out


COLUMNS = ("job", "cell", "rounds", "best accuracy", "joules", "J/point", "time")


def columns_for(rows: Sequence[JobSummary]) -> tuple[str, ...]:
    """The table's header: `best accuracy` and `J/point` (joules per percentage point), or
    the objective's name where the jobs optimised another metric (`J/val_loss`)."""
    objectives = {r.objective for r in rows}
    if objectives <= {"accuracy"}:
        return COLUMNS
    name = objectives.pop() if len(objectives) == 1 else "objective"
    return ("job", "cell", "rounds", f"best {name}", "joules", f"J/{name}", "time")


def table_rows(rows: Sequence[JobSummary], jobs: int | None = None) -> list[list[str]]:
    """The printed table's cells; a job that left no row shows as `no result`."""
    out = []
    by_job = {r.job: r for r in rows}
    numbers = list(range(1, jobs + 1)) if jobs else [r.job for r in rows]
    for number in numbers:
        r = by_job.get(number)
        if r is None:
            out.append([str(number), "no result (failed or still running)", "", "", "", "", ""])
            continue
        out.append(
            [
                str(r.job),
                r.cell,
                str(r.rounds),
                _num(r.best_accuracy, ".4f"),
                _num(r.energy_j, ".1f"),
                _num(r.energy_per_point_j, ".3g"),
                _duration(r.duration_s) + (f" ({r.attempts} attempts)" if r.attempts > 1 else ""),
            ]
        )
    return out


def format_table(cells: Sequence[Sequence[str]], columns: Sequence[str] = COLUMNS) -> str:
    """Aligned columns: the cell's name to the left, numbers to the right."""
    right = [c for i, c in enumerate(columns) if i != 1]
    return aligned(columns, cells, right=right, rule=True)


def write_csv(path: Path, rows: Sequence[JobSummary]) -> None:
    """The jobs' rows with full precision, one per job, for a spreadsheet or pandas."""
    names = [
        "job",
        "cell",
        "rounds",
        "best_accuracy",
        "energy_j",
        "energy_per_point_j",
        "duration_s",
        "stop_reason",
        "study_name",
        "mlflow_run_id",
        "objective",
        "attempts",
    ]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for r in rows:
            values = {**asdict(r), "energy_per_point_j": r.energy_per_point_j}
            writer.writerow(["" if values[n] is None else values[n] for n in names])


class SweepSummary(Callback):
    """Hydra callback: `sweep.json` before a multirun's jobs start; after the last, the
    summary table of its jobs on the terminal and in `summary.csv` in the sweep directory."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from green_ai.config.hydra_app import sweep_jobs
        from green_ai.logs import quiet_libraries

        quiet_libraries(bool(config.get("verbose", False)))  # the launcher plugins' lines
        jobs = sweep_jobs(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        info = {"jobs": len(jobs) or None, "varying": varying_keys(jobs)}
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(info))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(Path(str(config.hydra.sweep.dir)))


def print_summary(sweep_dir: Path) -> Path | None:
    """Print the table of the sweep's jobs and write `summary.csv`; its path (None when no job
    left a row)."""
    sweep_file = sweep_dir / SWEEP_FILE
    since = sweep_file.stat().st_mtime if sweep_file.exists() else None
    rows = read_job_summaries(sweep_dir, since)
    if not rows:
        return None
    info = _read_json(sweep_file)
    jobs = info.get("jobs")
    if info.get("schedule"):
        rows = cells_of_waves(rows, info["schedule"])
    csv_path = sweep_dir / SUMMARY_FILE
    write_csv(csv_path, rows)
    table = format_table(table_rows(rows, jobs), columns_for(rows))
    print(f"\n{table}\n", flush=True)
    log.info("summary: %s", csv_path)
    if len({(r.tracking_uri, r.experiment_id) for r in rows}) == 1:
        log.info("compare in MLflow: %s", mlflow_hint(rows[0].tracking_uri, rows[0].experiment_id))
    return csv_path


def cells_of_waves(
    rows: Sequence[JobSummary], schedule: Sequence[Sequence[int]]
) -> list[JobSummary]:
    """One row per cell of an ordered sweep, whose jobs each ran some of a cell's rounds
    (`schedule[job - 1]` is [cell, rounds]): the cell's latest job, numbered as the cell,
    with the time and the requeued attempts of all its jobs."""
    by_cell: dict[int, list[JobSummary]] = {}
    for r in rows:
        if r.job is not None and 0 < r.job <= len(schedule):
            by_cell.setdefault(int(schedule[r.job - 1][0]), []).append(r)
    merged = []
    for cell, jobs in sorted(by_cell.items()):
        last = max(jobs, key=lambda r: r.job or 0)
        total_s = sum(r.duration_s for r in jobs)
        requeued = sum(r.attempts - 1 for r in jobs)  # SLURM's requeues of any of its jobs
        merged.append(replace(last, job=cell, duration_s=total_s, attempts=1 + requeued))
    return merged


def mlflow_hint(tracking_uri: str, experiment_id: str) -> str:
    """How to open the experiment's runs in MLflow's UI, in the training view."""
    from green_ai.tracking.ui import experiment_url
    from green_ai.urls import redact_url

    if tracking_uri.startswith(("http://", "https://")):
        return f"open {experiment_url(experiment_id, redact_url(tracking_uri))}"
    store = f" --backend-store-uri {tracking_uri}" if tracking_uri else ""
    return f"`mlflow ui{store}`, then open {experiment_url(experiment_id)}"


def _num(value: float | None, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
