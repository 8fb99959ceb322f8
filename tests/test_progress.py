"""Progress a person reads: the job ("job 2/4"), rounds counted against `rounds`, epochs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from omegaconf import DictConfig
from optuna.trial import TrialState

from green_ai.config.store import train_settings
from green_ai.progress import QUIET_S, Progress, ProgressObserver
from green_ai.search.events import (
    EpochDone,
    RoundDone,
    RoundStarted,
    StudyDone,
    StudyOutcome,
    StudyStarted,
    WarmedUp,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "green_ai"]


def test_log_lines_name_the_job_and_count_rounds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    p = Progress("log", rounds=3, done=1, epochs_per_round=4, job="job 2/4", clock=clock)
    p.info("starting")
    p.round_done("round 1: accuracy 0.9")
    p.round_done("round 2 failed: diverged", counted=False)
    p.epoch("round 3: rep 1/2 epoch 1/2")  # right after a line: not repeated
    clock.now += QUIET_S
    p.epoch("round 3: rep 1/2 epoch 2/2")  # a long epoch: a sign of life
    p.close()
    assert lines(caplog) == [
        "job 2/4 starting",
        "job 2/4 (2/3) round 1: accuracy 0.9",
        "job 2/4 (2/3) round 2 failed: diverged",
        "job 2/4 round 3: rep 1/2 epoch 2/2",
    ]


def test_none_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    p = Progress("none", rounds=1, done=0, epochs_per_round=1)
    p.info("x")
    p.round_done("round 0")
    p.close()
    assert lines(caplog) == []


def test_bars_show_the_job_and_lines_still_go_through_logging(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    p = Progress("bar", rounds=2, done=0, epochs_per_round=2, job="job 1/4")
    p.start_round()
    p.epoch("round 0: rep 1/1 epoch 1/2")
    p.epoch("round 0: rep 1/1 epoch 2/2")
    p.round_done("round 0: accuracy 0.5")
    assert p._rounds.n == 1 and p._rounds.desc == "job 1/4 rounds"
    p.close()
    assert lines(caplog) == ["job 1/4 (1/2) round 0: accuracy 0.5"]
    assert "job 1/4 rounds" in capsys.readouterr().err


def test_a_study_as_its_loop_tells_it(
    make_cfg: Callable[..., DictConfig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = train_settings(make_cfg("rounds=3", "repetitions=1"))
    shown = ProgressObserver("log", job="job 2/4", label="conv4 relu1")
    shown.study_started(StudyStarted(settings, "s1", "sqlite:///s.db", 1, {}))
    shown.warmed_up(WarmedUp(1.25))
    shown.round_started(RoundStarted(1, {"lr": 0.1}))
    shown.epoch_done(EpochDone(1, 0, 0, {}, "round 1: rep 1/1 epoch 1/1"))  # no line: quick
    shown.round_done(RoundDone(1, TrialState.COMPLETE, "round 1: accuracy 0.9"))
    shown.round_done(RoundDone(2, TrialState.FAIL, "round 2 failed: diverged", "diverged"))
    shown.round_done(RoundDone(3, TrialState.PRUNED, "round 3: pruned after epoch 1"))
    outcome = StudyOutcome("s1", 0.9, 3, 2, "energy budget reached", 5.0)
    shown.study_done(StudyDone("FINISHED", outcome.stop_reason, {}, None, outcome))
    assert lines(caplog) == [
        "job 2/4 resuming conv4 relu1: 1/3 rounds done (study s1 in sqlite:///s.db)",
        "job 2/4 warmed up in 1.2 s",
        "job 2/4 (2/3) round 1: accuracy 0.9",
        "job 2/4 (2/3) round 2 failed: diverged",
        "job 2/4 (3/3) round 3: pruned after epoch 1",
        "job 2/4 study s1 stopped: energy budget reached",
    ]


def test_a_study_that_completes_or_breaks_says_no_stop_reason(
    make_cfg: Callable[..., DictConfig], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = train_settings(make_cfg("rounds=2"))
    for outcome in (StudyOutcome("s1", 0.9, 2, 2, "2 rounds completed", None), None):
        shown = ProgressObserver("log")
        shown.study_started(StudyStarted(settings, "s1", "sqlite:///s.db", 0, {}))
        shown.study_done(StudyDone("FINISHED", None, {}, None, outcome))
    assert lines(caplog) == ["starting s1: 0/2 rounds done (study s1 in sqlite:///s.db)"] * 2
