"""Waiting for a sweep's SLURM jobs without `sacct`: each ends with its result or a reason.

submitit asks `sacct` for a job's state; without accounting it cannot tell a job that died from
one still running, and waits for ever. Here a job is done when its result file appears; it
failed when SLURM no longer runs it and no result followed within `GONE_GRACE_S` (a shared
file system may show the file late), or when it is pending for a reason no wait clears.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from green_ai.cluster.nodes import ENDED, HOPELESS, UNAVAILABLE, QueueState, cancel, queue

log = logging.getLogger("green_ai")

POLL_S = 2.0
GONE_GRACE_S = 30.0
UNAVAILABLE_S = 45.0  # `ReqNodeNotAvail` this long: the nodes are not coming back soon


@dataclass
class Outcome:
    """How one job ended: its Hydra `JobReturn`, or why it has none."""

    job: Any  # submitit.Job
    result: Any = None
    failure: str | None = None

    @property
    def log_path(self) -> str:
        """The job's output (submitit keeps its errors next to it, in `.err`)."""
        return str(self.job.paths.stdout)


def watch(
    jobs: Sequence[Any], *, poll_s: float = POLL_S, grace_s: float = GONE_GRACE_S
) -> list[Outcome]:
    """Wait until every job has ended; their outcomes in the order of `jobs`."""
    outcomes: dict[str, Outcome] = {}
    pending = {j.job_id: j for j in jobs}
    # When a job was first seen gone, or waiting for nodes that are not available: a requeued
    # job passes through an ended state, and a node may come back.
    since: dict[str, float] = {}
    while pending:
        states = queue(list(pending))
        now = time.monotonic()
        for job_id, job in list(pending.items()):
            if states is None and not job.paths.result_pickle.exists():
                continue  # squeue did not answer this time
            kind, outcome = _ended(job, (states or {}).get(job_id))
            wait = {"gone": grace_s, "unavailable": UNAVAILABLE_S}.get(kind, 0.0)
            if outcome is None or now - since.setdefault(job_id, now) < wait:
                if outcome is None:
                    since.pop(job_id, None)
                continue
            if kind in ("hopeless", "unavailable"):
                cancel([job_id])
            outcomes[job_id] = outcome
            del pending[job_id]
            if outcome.failure:
                log.error("SLURM job %s failed: %s", job_id, outcome.failure)
        if pending:
            time.sleep(poll_s)
    return [outcomes[j.job_id] for j in jobs]


def _ended(job: Any, state: QueueState | None) -> tuple[str, Outcome | None]:
    """(what kind of end, the job's outcome), or ("", None) while it goes on."""
    if job.paths.result_pickle.exists():
        return "done", read_outcome(job)
    if state is None:
        return "gone", Outcome(job, failure="gone from SLURM's queue without a result")
    if state.state in ENDED:
        why = f" ({state.reason})" if state.reason not in ("None", "") else ""
        return "gone", Outcome(job, failure=f"ended {state.state}{why} without a result")
    if state.state == "PENDING" and state.reason in HOPELESS:
        why = f"pending for a reason that cannot clear (Reason={state.reason}): cancelled"
        return "hopeless", Outcome(job, failure=why)
    if state.state == "PENDING" and state.reason.startswith(UNAVAILABLE):
        why = f"its nodes stayed unavailable (Reason={state.reason}): cancelled"
        return "unavailable", Outcome(job, failure=why)
    return "", None


def read_outcome(job: Any) -> Outcome:
    """The job's result file: its Hydra `JobReturn`, or the error that ended it."""
    from hydra.core.utils import JobStatus
    from submitit.core.utils import pickle_load

    try:
        kind, value = pickle_load(job.paths.result_pickle)
    except (EOFError, OSError):
        time.sleep(2)  # being written
        kind, value = pickle_load(job.paths.result_pickle)
    if kind != "success":
        lines = [x for x in str(value).strip().splitlines() if x.strip()]
        # The traceback's last line, without the exception's module: `JobStoppedError: ...`.
        last = re.sub(r"^[\w.]+\.(\w+: )", r"\1", lines[-1]) if lines else "failed"
        return Outcome(job, failure=last)
    if getattr(value, "status", None) == JobStatus.FAILED:
        err = value._return_value
        return Outcome(job, result=value, failure=f"{type(err).__name__}: {err}")
    return Outcome(job, result=value)
