"""Progress over rounds and epochs: tqdm bars on a terminal, plain log lines elsewhere (CI).

In a multirun every line and bar says which job it belongs to ("job 2/4"). Lines are logged in
both modes, so they share the terminal's one format (green_ai.logs); under bars they are
written above them (tqdm's logging redirect) instead of breaking them.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

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
