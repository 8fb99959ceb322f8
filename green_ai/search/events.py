"""What a study says as it runs, and who listens: MLflow, the terminal, a sweep's summary.

The study loop (green_ai.search.study, .rounds) knows none of its listeners; the app hands it
`Observer`s (green_ai.observers) and it calls them in its own thread, in order, as things
happen. A call returns when the observer is done, so what an observer writes exists before
the loop goes on: the round's MLflow run exists before the round trains. Two calls return
values the loop keeps: `study_started` and `round_started` may return attributes for the
Optuna study and trial (e.g. their MLflow run ids, which optuna-dashboard then shows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from green_ai.config.train import TrainConfig

Attrs = Mapping[str, Any]


@dataclass(frozen=True)
class StudyOutcome:
    """How a study ended, for the worker that ran it; `attrs` are what observers returned at
    its start (the MLflow ids among them)."""

    study_name: str
    best_accuracy: float | None  # the best value of the study's first objective
    rounds_completed: int
    new_rounds: int
    stop_reason: str | None
    energy_j: float | None
    objective: str = "accuracy"
    attrs: Attrs = field(default_factory=dict)

    @property
    def parent_run_id(self) -> str:
        return str(self.attrs.get("mlflow_run_id", ""))

    @property
    def experiment_id(self) -> str:
        return str(self.attrs.get("mlflow_experiment_id", ""))


@dataclass(frozen=True)
class StudyStarted:
    """The study is open, under its lock: what many workers must create once (the parent
    run) is created here. `tags` say what measures this worker (device, energy backend)."""

    settings: TrainConfig
    study_name: str
    storage: str  # the study database, credentials hidden
    rounds_done: int
    tags: Mapping[str, str]


@dataclass(frozen=True)
class LostRoundsSettled:
    """Under the study's lock: `trials` are rounds whose workers are done with them, `lost`
    the numbers of those whose workers are gone mid-round (now failed in Optuna)."""

    trials: Sequence[FrozenTrial]
    lost: Sequence[int]


@dataclass(frozen=True)
class WarmedUp:
    seconds: float


@dataclass(frozen=True)
class RoundStarted:
    """Round `number` is reserved and about to train with `hparams`."""

    number: int
    hparams: Mapping[str, Any]


@dataclass(frozen=True)
class EpochDone:
    """An epoch of a repetition; `step` orders the round's epochs across repetitions, `line`
    says it to a person."""

    number: int
    repetition: int
    step: int
    metrics: Mapping[str, float]
    line: str


@dataclass(frozen=True)
class RepetitionDone:
    number: int
    repetition: int
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class RoundMeasured:
    """A round's figures (its score, joules, duration) and how they were measured, before
    Optuna is told how it ended: a round Optuna counts always has its figures."""

    number: int
    metrics: Mapping[str, float]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class RoundDone:
    """Optuna knows how round `number` ended: `state` COMPLETE, PRUNED or FAIL (`failure`
    says why)."""

    number: int
    state: TrialState
    line: str
    failure: str | None = None

    @property
    def pruned(self) -> bool:
        return self.state == TrialState.PRUNED

    @property
    def counted(self) -> bool:
        return self.state in (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class RoundAbandoned:
    """Round `number` was cut short from outside (Ctrl-C, SIGTERM: `killed`) or by an error
    that stops the study; it is failed in Optuna and redone by a later run."""

    number: int
    params: Mapping[str, Any]
    reason: str
    killed: bool


@dataclass(frozen=True)
class StudyTotals:
    """Study-level figures after a round (best value, joules so far, rounds counted)."""

    metrics: Mapping[str, float]
    step: int = 0


@dataclass(frozen=True)
class StudyDone:
    """This worker's part of the study ended. `status` FINISHED, FAILED or KILLED, or None
    when other workers still run its last rounds; `outcome` is None when it ended by an
    exception (which goes on after this event)."""

    status: str | None
    stop_reason: str | None
    tags: Mapping[str, str]
    pareto_front: Mapping[str, Any] | None
    outcome: StudyOutcome | None


class Observer:
    """Listens to a study; every method does nothing unless overridden."""

    def study_started(self, event: StudyStarted) -> Attrs | None:
        """Return attributes for the Optuna study, or None."""
        return None

    def lost_rounds_settled(self, event: LostRoundsSettled) -> None:
        return None

    def warmed_up(self, event: WarmedUp) -> None:
        return None

    def round_started(self, event: RoundStarted) -> Attrs | None:
        """Return attributes for the round's Optuna trial, or None."""
        return None

    def epoch_done(self, event: EpochDone) -> None:
        return None

    def repetition_done(self, event: RepetitionDone) -> None:
        return None

    def round_measured(self, event: RoundMeasured) -> None:
        return None

    def round_done(self, event: RoundDone) -> None:
        return None

    def round_abandoned(self, event: RoundAbandoned) -> None:
        return None

    def study_totals(self, event: StudyTotals) -> None:
        return None

    def study_done(self, event: StudyDone) -> None:
        return None


class Observers(Observer):
    """Several observers as one, called in the order given; the attributes they return are
    merged (a later observer's value wins a shared key)."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self.observers = list(observers)

    def study_started(self, event: StudyStarted) -> Attrs:
        return _merged(o.study_started(event) for o in self.observers)

    def lost_rounds_settled(self, event: LostRoundsSettled) -> None:
        for o in self.observers:
            o.lost_rounds_settled(event)

    def warmed_up(self, event: WarmedUp) -> None:
        for o in self.observers:
            o.warmed_up(event)

    def round_started(self, event: RoundStarted) -> Attrs:
        return _merged(o.round_started(event) for o in self.observers)

    def epoch_done(self, event: EpochDone) -> None:
        for o in self.observers:
            o.epoch_done(event)

    def repetition_done(self, event: RepetitionDone) -> None:
        for o in self.observers:
            o.repetition_done(event)

    def round_measured(self, event: RoundMeasured) -> None:
        for o in self.observers:
            o.round_measured(event)

    def round_done(self, event: RoundDone) -> None:
        for o in self.observers:
            o.round_done(event)

    def round_abandoned(self, event: RoundAbandoned) -> None:
        for o in self.observers:
            o.round_abandoned(event)

    def study_totals(self, event: StudyTotals) -> None:
        for o in self.observers:
            o.study_totals(event)

    def study_done(self, event: StudyDone) -> None:
        # Every observer hears the end (closes its bars, its run) even when one fails there;
        # the first failure then goes on.
        failure: BaseException | None = None
        for o in self.observers:
            try:
                o.study_done(event)
            except BaseException as err:
                failure = failure or err
        if failure is not None:
            raise failure


def _merged(results: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for attrs in results:
        merged.update(attrs or {})
    return merged
