"""Where studies live: the Optuna storage URL, and opening a study that many may open at once."""

from __future__ import annotations

import random
import time
from pathlib import Path

import optuna
import sqlalchemy.exc

from green_ai.config import StudyConfig
from green_ai.paths import launch_dir


def storage_url(study: StudyConfig) -> str:
    """The configured Optuna storage, or SQLite `studies.db` in the launch directory."""
    if study.storage:
        return study.storage
    return f"sqlite:///{Path(launch_dir(), 'studies.db').resolve()}"


def open_study(
    name: str, storage: str, directions: list[optuna.study.StudyDirection], attempts: int = 6
) -> optuna.Study:
    """Create the study, or load it if it exists.

    Workers started together on an empty shared database race to create Optuna's tables
    (PostgreSQL: a unique violation on a new table's type, or "type already exists"); the loser
    retries after a short, randomised pause and then finds the tables made.
    """
    for attempt in range(attempts - 1):
        try:
            return optuna.create_study(
                study_name=name, storage=storage, directions=directions, load_if_exists=True
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            time.sleep(0.1 * (attempt + 1) + random.random() * 0.2)
    return optuna.create_study(  # the last attempt lets its error through
        study_name=name, storage=storage, directions=directions, load_if_exists=True
    )
