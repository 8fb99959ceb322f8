"""The study loop as its observers hear it: what it says, in which order, and what it keeps of
what they answer; no MLflow, progress or sweep summary unless the app wires them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from omegaconf import DictConfig

from green_ai.search import Observer, Observers, run_study
from green_ai.search.events import (
    EpochDone,
    RepetitionDone,
    RoundDone,
    RoundMeasured,
    RoundStarted,
    StudyDone,
    StudyStarted,
    StudyTotals,
)

Make = Callable[..., DictConfig]


class Recorder(Observer):
    """Keeps every event it hears; answers the study's and each round's start."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def hear(self, event: Any) -> dict[str, str] | None:
        self.events.append(event)
        if isinstance(event, StudyStarted):
            return {"tracker": f"study {event.study_name}"}
        if isinstance(event, RoundStarted):
            return {"tracker": f"round {event.number}"}
        return None

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


for _method in [name for name in vars(Observer) if not name.startswith("_")]:
    setattr(Recorder, _method, Recorder.hear)


def test_a_study_tells_its_observers_every_step_and_keeps_their_answers(
    make_cfg: Make, tmp_path: Path
) -> None:
    cfg = make_cfg("rounds=2", "repetitions=2", "epochs=2")
    recorder = Recorder()
    outcome = run_study(cfg, observers=[recorder])
    events = recorder.events
    assert isinstance(events[0], StudyStarted) and events[0].rounds_done == 0
    assert isinstance(events[-1], StudyDone) and events[-1].outcome == outcome
    assert events[-1].status == "FINISHED" and outcome.rounds_completed == 2
    for number in (0, 1):
        kinds = [type(e) for e in events if getattr(e, "number", None) == number]
        # started, 2 repetitions × (2 epochs, then the repetition), measured, done
        rep = [EpochDone, EpochDone, RepetitionDone]
        assert kinds == [RoundStarted, *rep, *rep, RoundMeasured, RoundDone]
    steps = [e.step for e in recorder.of(EpochDone) if e.number == 0]
    assert steps == [0, 1, 2, 3]
    assert all(e.line.startswith(f"round {e.number}: rep ") for e in recorder.of(EpochDone))
    assert [e.state for e in recorder.of(RoundDone)] == [optuna.trial.TrialState.COMPLETE] * 2
    assert recorder.of(StudyTotals)[-1].metrics["rounds_completed"] == 2
    # What the observer answered is kept on the study and its trials, and in the outcome.
    study = optuna.load_study(study_name=outcome.study_name, storage=cfg.study.storage)
    assert study.user_attrs["tracker"] == f"study {outcome.study_name}"
    assert [t.user_attrs["tracker"] for t in study.trials] == ["round 0", "round 1"]
    assert outcome.attrs == {"tracker": f"study {outcome.study_name}"}
    # The loop tracks nothing itself: without the app's observers no MLflow store exists.
    assert not (tmp_path / "mlflow.db").exists()
    assert outcome.parent_run_id == ""


def test_a_study_that_breaks_ends_for_its_observers_without_an_outcome(
    make_cfg: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    from green_ai.search import rounds as rounds_module

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(rounds_module.TaskRunner, "__call__", broken)
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt):
        run_study(make_cfg(), observers=[recorder])
    (abandoned,) = [e for e in recorder.events if type(e).__name__ == "RoundAbandoned"]
    assert abandoned.number == 0 and abandoned.killed and abandoned.reason == "interrupted"
    done = recorder.events[-1]
    assert isinstance(done, StudyDone)
    assert (done.status, done.stop_reason, done.outcome) == ("KILLED", "interrupted", None)


class Failing(Observer):
    def study_done(self, event: StudyDone) -> None:
        raise RuntimeError("store gone")


class Answering(Observer):
    def __init__(self, answer: dict[str, str]) -> None:
        self.answer = answer
        self.ended = False

    def round_started(self, event: RoundStarted) -> dict[str, str]:
        return self.answer

    def study_done(self, event: StudyDone) -> None:
        self.ended = True


def test_observers_merge_their_answers_and_all_hear_the_end_when_one_fails() -> None:
    first, last = Answering({"a": "1", "b": "first"}), Answering({"b": "last"})
    fan = Observers([first, Observer(), last])
    assert fan.round_started(RoundStarted(0, {})) == {"a": "1", "b": "last"}
    assert fan.study_started(StudyStarted(None, "s", "", 0, {})) == {}  # type: ignore[arg-type]
    fan = Observers([Failing(), first, Failing(), last])
    with pytest.raises(RuntimeError, match="store gone"):
        fan.study_done(StudyDone("FINISHED", None, {}, None, None))
    assert first.ended and last.ended
