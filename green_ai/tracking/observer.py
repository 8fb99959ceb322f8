"""A study's MLflow runs as the study loop tells what happens (green_ai.search.events).

The parent run is found or created when the study starts, under the study's lock, so that
workers starting together make one; each round's run is created when its round starts, before
it trains, and its id returned for the Optuna trial (optuna-dashboard links the two).
"""

from __future__ import annotations

from green_ai.search.events import (
    Attrs,
    EpochDone,
    LostRoundsSettled,
    Observer,
    RepetitionDone,
    RoundAbandoned,
    RoundDone,
    RoundMeasured,
    RoundStarted,
    StudyDone,
    StudyStarted,
    StudyTotals,
)
from green_ai.tracking.study_runs import StudyRuns


class MlflowObserver(Observer):
    """Writes a study to MLflow through `StudyRuns`; `label` names its parent run."""

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self._runs: StudyRuns | None = None
        self._round_runs: dict[int, str] = {}  # this worker's open rounds: number -> run id

    @property
    def runs(self) -> StudyRuns:
        if self._runs is None:
            raise RuntimeError("the study has not started: no MLflow parent run yet")
        return self._runs

    def study_started(self, event: StudyStarted) -> Attrs:
        runs = StudyRuns(event.settings, event.study_name, tags=event.tags, label=self.label)
        self._runs = runs
        return {"mlflow_experiment_id": runs.experiment_id, "mlflow_run_id": runs.run_id}

    def lost_rounds_settled(self, event: LostRoundsSettled) -> None:
        if event.trials or event.lost:
            self.runs.close_orphans(event.trials, event.lost)

    def round_started(self, event: RoundStarted) -> Attrs:
        run_id = self.runs.start_round(event.number, event.hparams)
        self._round_runs[event.number] = run_id
        return {"mlflow_run_id": run_id}

    def epoch_done(self, event: EpochDone) -> None:
        self.runs.log_metrics(self._round_runs[event.number], event.metrics, step=event.step)

    def repetition_done(self, event: RepetitionDone) -> None:
        run_id = self._round_runs[event.number]
        self.runs.log_metrics(run_id, event.metrics, step=event.repetition)

    def round_measured(self, event: RoundMeasured) -> None:
        run_id = self._round_runs[event.number]
        self.runs.log_metrics(run_id, event.metrics)
        if event.tags:
            self.runs.set_tags(run_id, event.tags)

    def round_done(self, event: RoundDone) -> None:
        run_id = self._round_runs.pop(event.number)
        self.runs.finish_round(run_id, failed_reason=event.failure, pruned=event.pruned)

    def round_abandoned(self, event: RoundAbandoned) -> None:
        run_id = self._round_runs.pop(event.number, None)
        if run_id is None:  # stopped before its run was made here: found, or made, killed
            self.runs.kill_round(event.number, event.params, event.reason)
        else:
            self.runs.finish_round(run_id, failed_reason=event.reason, killed=event.killed)

    def study_totals(self, event: StudyTotals) -> None:
        self.runs.log_metrics(self.runs.run_id, event.metrics, step=event.step)

    def study_done(self, event: StudyDone) -> None:
        self.runs.finish(status=event.status, tags=event.tags)
        if event.pareto_front is not None:
            self.runs.log_dict(dict(event.pareto_front), "pareto_front.json")
