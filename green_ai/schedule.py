"""The run order of a sweep's rounds: `design.order` (thesis §3.7.1, §4.6.1).

Cells run one after another in the thesis, so a cell's energy is confounded with time: with
the device's temperature, a drifting idle power, a neighbour's load. `interleaved` runs the
sweep's cells round-robin, one round each; `randomized` runs every cell's rounds in a seeded
random order. Either way no cell's rounds all come before another's.

The order is carried out by launching *waves* of jobs (green_ai's sweeper, in
`hydra_plugins.green_ai_sweeper`): each job runs one cell's study up to a round count
(`design.sweep_rounds`), which resumes the study the cell's earlier jobs began. A wave holds
each cell at most once, so a launcher may run a wave's jobs in parallel (joblib, fewer
workers than cells) and none waits for another: nothing can deadlock. The same seed gives the
same order, so rerunning the command after an interruption skips the rounds already done and
goes on in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class Launch:
    """One job of an ordered sweep: run cell `cell` (0-based, the basic sweeper's order) up
    to `rounds` rounds, at `position` (0-based) in the sweep."""

    cell: int
    rounds: int
    position: int


def round_order(rounds: Sequence[int], order: str, seed: int) -> list[Launch]:
    """Every round of every cell (cell `c` has `rounds[c]`), in run order."""
    cells = [c for c, n in enumerate(rounds) for _ in range(n)]  # sequential
    if order == "interleaved":
        cells = [c for k in range(max(rounds, default=0)) for c, n in enumerate(rounds) if k < n]
    elif order == "randomized":
        random.Random(seed).shuffle(cells)
    elif order != SEQUENTIAL:
        raise ValueError(f"unknown run order {order!r}")
    done = [0] * len(rounds)
    launches = []
    for position, cell in enumerate(cells):
        done[cell] += 1
        launches.append(Launch(cell, done[cell], position))
    return launches


def waves(launches: Sequence[Launch], max_size: int | None = None) -> list[list[Launch]]:
    """Consecutive launches grouped so that no wave holds a cell twice (nor more than
    `max_size` jobs): a wave's jobs may run at once without two of them sharing a study."""
    out: list[list[Launch]] = []
    current: list[Launch] = []
    for launch in launches:
        full = max_size is not None and len(current) >= max_size
        if full or any(other.cell == launch.cell for other in current):
            out.append(current)
            current = []
        current.append(launch)
    if current:
        out.append(current)
    return out


def job_overrides(cell: Sequence[str], launch: Launch) -> list[str]:
    """A wave job's command line: its cell's overrides, how far to run its study, where it
    stands in the sweep."""
    return [
        *cell,
        f"design.sweep_rounds={launch.rounds}",
        f"design.sweep_position={launch.position}",
    ]
