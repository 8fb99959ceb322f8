"""Search spaces and the Optuna study loop: rounds × repetitions (thesis §3.3.1, §3.4)."""

from green_ai.search.space import build_space, suggest
from green_ai.search.study import StudyOutcome, run_study, study_name

__all__ = ["StudyOutcome", "build_space", "run_study", "study_name", "suggest"]
