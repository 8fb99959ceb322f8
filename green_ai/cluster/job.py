"""Inside a SLURM job: SLURM's warning signal turned into the study's `Requeued`.

The preset asks SLURM for `--signal=USR2@120`: SIGUSR2 two minutes before the time limit, and on
preemption. submitit's handler then saves the job for a requeue, asks SLURM to requeue it and
exits with `SystemExit(-1)` wherever the study happens to be. Left at that, the round in flight
and the study's parent run stay RUNNING until the requeued job (or a heartbeat check) cleans
up. Wrapped here, the handler's exit becomes `Requeued`, which the study records at once: the
round FAIL with reason `preempted` or `timed out`, its run KILLED, the parent left open with
that stop reason for the requeued job (thesis §3.3: an interrupted round is redone, not
counted). A warning after which nothing is requeued (too many time-outs) ends the job like
SIGTERM.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from green_ai.search.workers import Requeued, Terminated, requeueing

ATTEMPTS_FILE = "attempts.json"
WARNING_SIGNAL = signal.SIGUSR2


@contextmanager
def requeue_as_exception() -> Iterator[None]:
    """Within the block, submitit's SIGUSR2 handler raises `Requeued` instead of exiting."""
    previous = signal.getsignal(WARNING_SIGNAL)
    submitit_handler = getattr(previous, "__self__", None)
    if not callable(previous) or submitit_handler is None:
        yield  # not under submitit's handler: nothing to wrap
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        timed_out = bool(submitit_handler.has_timed_out())
        case = "timed out" if timed_out else "preempted"
        requeueing.set()  # the SIGTERM that ends this attempt must not cut the recording
        try:
            previous(signum, frame)
        except SystemExit:
            raise Requeued(case) from None
        except Exception as err:  # submitit did not requeue (too many time-outs)
            requeueing.clear()
            raise Terminated(f"{case}, not requeued: {err}") from None
        requeueing.clear()  # a secondary task: nothing done

    signal.signal(WARNING_SIGNAL, handler)
    try:
        yield
    finally:
        signal.signal(WARNING_SIGNAL, previous)


def record_attempt(folder: Path, job_number: int, seconds: float) -> None:
    """Add an attempt that SLURM requeued to the job's `attempts.json` (its submitit folder):
    the sweep's summary counts every attempt and its time (green_ai.sweep)."""
    path = folder / ATTEMPTS_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {"job": job_number, "seconds": []}
    data["seconds"].append(round(seconds, 3))
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
