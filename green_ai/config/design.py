"""Typed settings of `design.*`: how a study's measurements are ordered and repeated.

The thesis names its own threats to validity (§3.7.1 background noise, §4.6.1 a GPU idling
high for its first minutes): `design` is where a study answers them. The defaults keep the
thesis's design: cells one after another, a fixed number of repetitions per round, no wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.errors import UserError

# sequential: each cell's rounds before the next cell's (the thesis);
# interleaved: round-robin over the sweep's cells; randomized: a seeded random order of every
# cell's rounds, so neither time nor the device's thermal state is confounded with a cell.
ORDERS = ("sequential", "interleaved", "randomized")


@dataclass
class DesignConfig:
    """`design.*`: run order, intervals, thermal settling and adaptive repetitions."""

    order: str = "sequential"  # sequential | interleaved | randomized
    seed: int = 0  # the randomized order's seed (the same seed, the same order on resume)
    # Confidence level of every interval green_ai logs (a round's mean energy per repetition,
    # the report's cell means and eta2).
    confidence: float = 0.95
    # Before each measured window, wait until power is stable (or back near idle), at most this
    # long; 0 = no wait. (energy.settle_s is the rest before the idle baseline.)
    settle_max_s: float = 0.0
    # repetitions=auto: train repetitions until the half-width of the round's energy interval
    # is within target_ci of its mean (0.02 = 2 %), between min_ and max_repetitions.
    target_ci: float | None = None
    min_repetitions: int = 3
    max_repetitions: int = 24
    # Set by green_ai's sweeper on each job of an ordered sweep (green_ai.schedule): run the
    # study up to this many rounds now (the rest in later jobs), at this position (0-based).
    sweep_rounds: int | None = None
    sweep_position: int | None = None

    def __post_init__(self) -> None:
        require_choice("design.order", self.order, ORDERS)
        require_int("design.seed", self.seed, minimum=0)
        conf = self.confidence
        if not (isinstance(conf, int | float) and not isinstance(conf, bool) and 0 < conf < 1):
            raise UserError(
                f"design.confidence={conf!r} must be a number between 0 and 1 (0.95 for a 95 % "
                "interval)"
            )
        require_number("design.settle_max_s", self.settle_max_s, low=0.0, unit=" s")
        if self.target_ci is not None:
            require_number("design.target_ci", self.target_ci, low=0.0, strict=True)
            if self.target_ci >= 1:
                raise UserError(
                    f"design.target_ci={self.target_ci!r} is a fraction of the mean: use a "
                    "number between 0 and 1 (0.02: within 2 %)"
                )
        if self.sweep_rounds is not None:
            require_int("design.sweep_rounds", self.sweep_rounds, minimum=1)
        if self.sweep_position is not None:
            require_int("design.sweep_position", self.sweep_position, minimum=0)
        # An interval needs two repetitions.
        require_int("design.min_repetitions", self.min_repetitions, minimum=2)
        require_int("design.max_repetitions", self.max_repetitions, minimum=2)
        if self.min_repetitions > self.max_repetitions:
            raise UserError(
                f"design.min_repetitions={self.min_repetitions} is above "
                f"design.max_repetitions={self.max_repetitions}; lower the minimum or raise "
                "the maximum"
            )
