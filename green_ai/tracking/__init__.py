"""MLflow set-up and the names every run carries (see docs/architecture.md)."""

from green_ai.tracking.mlflow_setup import (
    KIND_INFERENCE,
    KIND_TRAIN_ROUND,
    KIND_TRAIN_STUDY,
    check_tracking,
    flatten_config,
    git_commit,
    hydra_overrides,
    setup_tracking,
)
from green_ai.tracking.study_runs import StudyRuns

__all__ = [
    "KIND_INFERENCE",
    "KIND_TRAIN_ROUND",
    "KIND_TRAIN_STUDY",
    "StudyRuns",
    "check_tracking",
    "flatten_config",
    "git_commit",
    "hydra_overrides",
    "setup_tracking",
]
