"""Progress over rounds and epochs: tqdm bars on a terminal, plain log lines elsewhere (CI).

In a multirun every line and bar says which job it belongs to ("job 2/4"). Lines are logged in
both modes, so they share the terminal's one format (green_ai.logs); under bars they are
written above them (tqdm's logging redirect) instead of breaking them. `ProgressObserver`
shows a study as its loop tells it (green_ai.search.events).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

from green_ai.search.events import (
    EpochDone,
    Observer,
    RoundDone,
    RoundStarted,
    StudyDone,
    StudyStarted,
    WarmedUp,
)

log = logging.getLogger("green_ai")

MODES = ("auto", "bar", "log", "none")
# Without bars, an epoch line is logged when nothing was for this long: long epochs (real
# datasets) still show signs of life; tiny runs are not flooded with lines.
QUIET_S = 30.0


def use_bars(mode: str) -> bool:
    if mode == "bar":
        return True
    if mode in ("log", "none"):
        return False
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """Rounds (outer) and epochs (inner) of a study; `mode` is auto | bar | log | none.
    `job` ("job 2/4", or '') prefixes every line and the rounds bar."""

    def __init__(
        self,
        mode: str,
        *,
        rounds: int,
        done: int,
        epochs_per_round: int,
        job: str = "",
        clock: Any = time.monotonic,
    ) -> None:
        self.mode = mode
        self.bars = use_bars(mode)
        self.prefix = f"{job} " if job else ""
        self.rounds = rounds
        self.done = done
        self.epochs_per_round = epochs_per_round
        self._clock = clock
        self._last_line = clock()
        self._rounds: Any = None
        self._epochs: Any = None
        self._redirect: AbstractContextManager[Any] | None = None
        if self.bars:
            from tqdm.auto import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            self._rounds = tqdm(
                total=rounds, initial=done, desc=f"{self.prefix}rounds", position=0
            )
            self._epochs = tqdm(total=epochs_per_round, desc="epochs", position=1, leave=False)
            self._redirect = logging_redirect_tqdm()
            self._redirect.__enter__()

    def start_round(self) -> None:
        if self._epochs is not None:
            self._epochs.reset(total=self.epochs_per_round)

    def epoch(self, text: str) -> None:
        """One epoch trained; `text` says which (round, repetition, epoch, loss)."""
        if self._epochs is not None:
            self._epochs.set_postfix_str(text, refresh=False)
            self._epochs.update(1)
        elif self.mode != "none" and self._clock() - self._last_line >= QUIET_S:
            self._line(text)

    def round_done(self, text: str, *, counted: bool = True) -> None:
        """A round ended; `counted` when it counts toward `rounds` (see COUNTED)."""
        if counted:
            self.done += 1
            if self._rounds is not None:
                self._rounds.update(1)
        if self.mode != "none":
            self._line(f"({min(self.done, self.rounds)}/{self.rounds}) {text}")

    def info(self, text: str) -> None:
        if self.mode != "none":
            self._line(text)

    def close(self) -> None:
        for bar in (self._epochs, self._rounds):
            if bar is not None:
                bar.close()
        if self._redirect is not None:
            self._redirect.__exit__(None, None, None)
            self._redirect = None

    def _line(self, text: str) -> None:
        log.info("%s%s", self.prefix, text)
        self._last_line = self._clock()


class ProgressObserver(Observer):
    """A study's rounds and epochs on the terminal (green_ai.search.events): bars or lines as
    `mode` says; `job` ("job 2/4", or '') and `label` (the study's run name) say whose."""

    def __init__(self, mode: str, *, job: str = "", label: str = "") -> None:
        self.mode = mode
        self.job = job
        self.label = label
        self.rounds = 0
        self._progress: Progress | None = None

    @property
    def progress(self) -> Progress:
        if self._progress is None:
            raise RuntimeError("the study has not started: no progress to show yet")
        return self._progress

    def study_started(self, event: StudyStarted) -> None:
        s = event.settings
        self.rounds = s.rounds
        self._progress = Progress(
            self.mode,
            rounds=s.rounds,
            done=min(event.rounds_done, s.rounds),
            epochs_per_round=s.epochs * s.max_repetitions,  # auto: at most
            job=self.job,
        )
        verb = "resuming" if event.rounds_done else "starting"
        self.progress.info(
            f"{verb} {self.label or event.study_name}: {event.rounds_done}/{s.rounds} rounds "
            f"done (study {event.study_name} in {event.storage})"
        )

    def warmed_up(self, event: WarmedUp) -> None:
        self.progress.info(f"warmed up in {event.seconds:.1f} s")

    def round_started(self, event: RoundStarted) -> None:
        self.progress.start_round()

    def epoch_done(self, event: EpochDone) -> None:
        self.progress.epoch(event.line)

    def round_done(self, event: RoundDone) -> None:
        self.progress.round_done(event.line, counted=event.counted)

    def study_done(self, event: StudyDone) -> None:
        self.progress.close()
        outcome = event.outcome
        if outcome is not None and outcome.stop_reason != f"{self.rounds} rounds completed":
            log.info(
                "%sstudy %s stopped: %s",
                self.progress.prefix,
                outcome.study_name,
                outcome.stop_reason,
            )
