"""Search spaces and the Optuna study loop: rounds × repetitions (thesis §3.3.1, §3.4).

The loop tells what happens to `Observer`s (green_ai.search.events) and imports none of
them: MLflow, progress and a sweep's summary are the app's (green_ai.observers).
"""

from green_ai.search.events import Observer, Observers, StudyOutcome
from green_ai.search.naming import study_name
from green_ai.search.space import build_space, suggest
from green_ai.search.study import (
    check_feasible,
    check_stores,
    prepare_stores,
    run_study,
)

__all__ = [
    "Observer",
    "Observers",
    "StudyOutcome",
    "build_space",
    "check_feasible",
    "check_stores",
    "prepare_stores",
    "run_study",
    "study_name",
    "suggest",
]
