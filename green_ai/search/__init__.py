"""Search spaces and the Optuna study loop: rounds × repetitions (thesis §3.3.1, §3.4)."""

from green_ai.search.naming import study_name
from green_ai.search.space import build_space, suggest
from green_ai.search.study import (
    StudyOutcome,
    check_feasible,
    check_stores,
    prepare_stores,
    run_study,
)

__all__ = [
    "StudyOutcome",
    "build_space",
    "check_feasible",
    "check_stores",
    "prepare_stores",
    "run_study",
    "study_name",
    "suggest",
]
