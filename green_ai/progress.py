"""Progress over rounds and epochs: tqdm bars on a terminal, plain log lines elsewhere (CI)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger("green_ai")

MODES = ("auto", "bar", "log", "none")


def use_bars(mode: str) -> bool:
    if mode == "bar":
        return True
    if mode in ("log", "none"):
        return False
    return sys.stderr.isatty() and not os.environ.get("CI")


class Progress:
    """Rounds (outer) and epochs (inner) of a study; `mode` is auto | bar | log | none."""

    def __init__(self, mode: str, *, rounds: int, done: int, epochs_per_round: int) -> None:
        self.mode = mode
        self.bars = use_bars(mode)
        self._rounds: Any = None
        self._epochs: Any = None
        self.epochs_per_round = epochs_per_round
        if self.bars:
            from tqdm.auto import tqdm

            self._rounds = tqdm(total=rounds, initial=done, desc="rounds", position=0)
            self._epochs = tqdm(total=epochs_per_round, desc="epochs", position=1, leave=False)

    def start_round(self) -> None:
        if self._epochs is not None:
            self._epochs.reset(total=self.epochs_per_round)

    def epoch(self, text: str) -> None:
        if self._epochs is not None:
            self._epochs.set_postfix_str(text, refresh=False)
            self._epochs.update(1)

    def round_done(self, text: str) -> None:
        if self._rounds is not None:
            self._rounds.update(1)
            self._rounds.write(text)
        elif self.mode != "none":
            log.info(text)

    def info(self, text: str) -> None:
        if self._rounds is not None:
            self._rounds.write(text)
        elif self.mode != "none":
            log.info(text)

    def close(self) -> None:
        for bar in (self._epochs, self._rounds):
            if bar is not None:
                bar.close()
