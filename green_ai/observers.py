"""What listens to a training study: the app wires MLflow, progress and the sweep's summary to
the study loop, which knows none of them (green_ai.search.events)."""

from __future__ import annotations

from green_ai.config.train import TrainConfig
from green_ai.progress import ProgressObserver
from green_ai.search.events import Observer
from green_ai.sweep import JobInfo, JobSummaryObserver
from green_ai.tracking import check_tracking, setup_tracking
from green_ai.tracking.mlflow_setup import resolve_uri
from green_ai.tracking.names import cell_label
from green_ai.tracking.observer import MlflowObserver

_checked_tracking: set[str] = set()


def default_observers(settings: TrainConfig, job: JobInfo | None = None) -> list[Observer]:
    """MLflow's runs, the terminal's progress and the job's row of a sweep's summary, for the
    study of `settings` run as Hydra `job` (none: not a multirun). The study's run name puts
    what the sweep varies first (green_ai.tracking.names)."""
    job = job or JobInfo()
    label = cell_label(settings, job.overrides, job.varying)
    return [
        MlflowObserver(label),
        ProgressObserver(settings.progress, job=job.tag, label=label),
        JobSummaryObserver(job, label=label, tracking_uri=resolve_uri(settings.tracking.uri)),
    ]


def check_observers(settings: TrainConfig) -> None:
    """The MLflow store answers (checked once per process), before anything is created."""
    uri = resolve_uri(settings.tracking.uri)
    if uri not in _checked_tracking:
        check_tracking(settings.tracking)
        _checked_tracking.add(uri)


def prepare_observers(settings: TrainConfig) -> None:
    """Create the MLflow store and experiment once, before a sweep's jobs start on them."""
    setup_tracking(settings.tracking)
