"""Workers that may die: heartbeats, finding the rounds of dead workers, SIGTERM as Ctrl-C.

A worker killed mid-round (SIGKILL, a node lost, SLURM's time limit) leaves its trial RUNNING.
The next worker to reserve a round finds it — by its process being gone on this machine, or by
its heartbeat going stale (Optuna's stale-trial check) — and records it as failed, so its
round is redone. SIGTERM, which SLURM sends when it cancels a job or its time is up, ends a
worker the way Ctrl-C does: the round in flight is recorded as failed and its MLflow runs are
closed. A job that SLURM requeues (its warning signal before a time limit or on preemption,
green_ai.cluster.job) raises `Requeued` instead: the round fails at once with the reason, and
the study's parent run stays open for the requeued job.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import FrameType

import optuna
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger("green_ai")

# Why a round ended without a result: the user attribute on its Optuna trial (MLflow's run of
# the round carries the same word as a tag: green_ai.tracking.study_runs).
FAIL_REASON = "fail_reason"
HOST_ATTR = "worker_host"
PID_ATTR = "worker_pid"


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop like Ctrl-C, recording the round in flight."""


class Requeued(Terminated):
    """SLURM requeued this job (`case`: `preempted` or `timed out`): the round in flight fails
    with that reason, and the study's parent run stays open for the requeued job to finish."""

    def __init__(self, case: str) -> None:
        super().__init__(case)
        self.case = case

    @property
    def stop_reason(self) -> str:
        return f"{self.case}: requeued by SLURM; the requeued job goes on with the study"


# Set once this process is being requeued: the SIGTERM that ends it then is expected and must
# not interrupt the recording of its round.
requeueing = threading.Event()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if requeueing.is_set():
            log.info("SIGTERM while being requeued: ignored")
            return
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def worker_attrs() -> dict[str, str | int]:
    """What identifies this worker on its trials: the machine and the process."""
    return {HOST_ATTR: socket.gethostname(), PID_ATTR: os.getpid()}


@contextmanager
def heartbeat(
    storage: optuna.storages.BaseStorage, study: optuna.Study, trial: optuna.Trial
) -> Iterator[None]:
    """Record the trial's heartbeat now and every heartbeat interval until the block ends."""
    interval = getattr(storage, "heartbeat_interval", None)
    if not interval:
        yield
        return
    tid = trial_id(storage, study, trial.number)
    storage.record_heartbeat(tid)  # type: ignore[attr-defined]
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(tid)  # type: ignore[attr-defined]
            except Exception as err:  # a missed beat must not end the round
                log.warning("heartbeat of round %d not recorded: %s", trial.number, err)

    thread = threading.Thread(target=beat, name="study-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def fail_lost_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Record as failed the RUNNING trials whose worker is gone; return their numbers.

    Call it under the study's lock (`study_lock`): a worker asks for its trial and labels it
    with `worker_attrs` under that lock, so a RUNNING trial seen there without both labels was
    left by a worker that died in between. A worker on this machine whose process no longer
    exists is gone at once; any other is gone when its heartbeat is older than the grace period.
    """
    lost: list[int] = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=[TrialState.RUNNING]):
        pid, where = t.user_attrs.get(PID_ATTR), t.user_attrs.get(HOST_ATTR)
        if not isinstance(pid, int) or where is None:
            reason = "its worker ended while reserving the round"
        elif where == host and not _alive(pid):
            reason = f"worker process {pid} on {host} ended during the round"
        else:
            continue
        if _fail(storage, study, t, reason):
            lost.append(t.number)
    before = {t.number for t in study.get_trials(deepcopy=False, states=[TrialState.RUNNING])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    # Live workers finish rounds meanwhile (they tell Optuna outside the lock): only a round
    # that failed without a reason was failed by the stale check (every worker writes its
    # reason before it fails its own round).
    stale = sorted(
        t.number
        for t in study.get_trials(deepcopy=False, states=[TrialState.FAIL])
        if t.number in before and FAIL_REASON not in t.user_attrs
    )
    for number in stale:
        log.warning("round %d: its worker stopped sending heartbeats; it will be redone", number)
    for number in lost:
        log.warning("round %d: its worker process ended; it will be redone", number)
    return lost + stale


def left_by_its_worker(t: FrozenTrial, grace_s: float) -> bool:
    """Whether the worker of the ended trial `t` is done with its round, so another may close
    the round's MLflow run. A live worker closes it moments after telling Optuna; until then
    its run's state is its own to write (a FAILED round would otherwise show KILLED)."""
    ended = t.datetime_complete
    if ended is not None and datetime.now() - ended > timedelta(seconds=grace_s):
        return True
    pid, where = t.user_attrs.get(PID_ATTR), t.user_attrs.get(HOST_ATTR)
    if not isinstance(pid, int) or where is None:
        return True
    return where == socket.gethostname() and not _alive(pid)


def _fail(
    storage: optuna.storages.BaseStorage, study: optuna.Study, t: FrozenTrial, reason: str
) -> bool:
    tid = trial_id(storage, study, t.number)
    try:
        storage.set_trial_user_attr(tid, FAIL_REASON, reason)
        return storage.set_trial_state_values(tid, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False  # another worker got there first


def trial_id(storage: optuna.storages.BaseStorage, study: optuna.Study, number: int) -> int:
    """The storage's id of trial `number` of `study`, through the storage's public API."""
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True
