"""Many workers on one study, started together from an empty directory, killed mid-round.

Each test runs real `python -m green_ai.train` processes against the default stores (SQLite
`studies.db` and `mlflow.db` in the directory they start in). Races are repeated, so a lucky
interleaving cannot pass them.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from green_ai.search.storage import open_storage
from green_ai.search.workers import HOST_ATTR, PID_ATTR, fail_lost_trials

from .workers import assert_exact_study, finish, only_study, tracked_runs, worker

pytestmark = pytest.mark.slow

ROUNDS = 6


@pytest.mark.parametrize("attempt", range(3))
def test_four_workers_at_once_from_an_empty_directory_run_exactly_rounds(
    tmp_path: Path, attempt: int
) -> None:
    # All four create both stores, the study and its parent run at the same moment.
    procs = [worker(tmp_path, f"rounds={ROUNDS}", f"study.worker={w}") for w in range(4)]
    finish(procs)
    assert_exact_study(
        f"sqlite:///{tmp_path}/studies.db", f"sqlite:///{tmp_path}/mlflow.db", ROUNDS
    )
    again = finish([worker(tmp_path, f"rounds={ROUNDS}")])[0]
    assert "(0 new)" in again


def _wait_for_running_round(storage: str, at_least: int, proc: subprocess.Popen[str]) -> None:
    """Until the study has a RUNNING trial numbered `at_least` or more (a round in flight)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the worker ended before it could be killed"
        try:
            trials = only_study(storage).trials
        except (ValueError, KeyError, optuna.exceptions.StorageInternalError):
            trials = []  # the study is not created yet
        if any(
            t.state == optuna.trial.TrialState.RUNNING and t.number >= at_least for t in trials
        ):
            return
        time.sleep(0.2)
    raise AssertionError("no round started")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_killed_mid_round_leaves_nothing_running_and_the_rerun_completes(
    tmp_path: Path, how: signal.Signals
) -> None:
    storage, tracking = f"sqlite:///{tmp_path}/studies.db", f"sqlite:///{tmp_path}/mlflow.db"
    # Rounds long enough to be caught in flight.
    slow = ["dataset.train_samples=2048", "epochs=3", "rounds=3"]
    proc = worker(tmp_path, *slow)
    _wait_for_running_round(storage, 1, proc)
    proc.send_signal(how)
    out = proc.communicate(timeout=300)[0]
    if how == signal.SIGTERM:  # handled like Ctrl-C: the round and the runs are closed
        assert proc.returncode == 143, out[-3000:]
        failed = [t for t in only_study(storage).trials if t.state.name == "FAIL"]
        assert [t.user_attrs["fail_reason"] for t in failed] == ["terminated (SIGTERM)"]
        parents, rounds = tracked_runs(tracking)
        assert parents[0].info.status == "KILLED"
        assert [r.info.status for r in rounds if r.data.tags["state"] == "FAIL"] == ["KILLED"]
    else:
        assert proc.returncode == -signal.SIGKILL
        assert "RUNNING" in [t.state.name for t in only_study(storage).trials]

    rerun = finish([worker(tmp_path, *slow)])[0]
    assert "rounds done" in rerun
    assert_exact_study(storage, tracking, 3)
    killed = [r for _, rr in [tracked_runs(tracking)] for r in rr if r.info.status == "KILLED"]
    assert len(killed) == 1 and killed[0].data.tags["state"] == "FAIL"
    assert killed[0].data.tags["fail_reason"]


def test_rounds_whose_worker_died_before_their_run_existed_are_failed_and_tracked(
    tmp_path: Path,
) -> None:
    # A worker killed between asking for its trial and creating the round's MLflow run (the
    # window the SIGKILL test above hits by chance), labelled or not yet labelled.
    storage, tracking = f"sqlite:///{tmp_path}/studies.db", f"sqlite:///{tmp_path}/mlflow.db"
    finish([worker(tmp_path, "rounds=1")])
    study = only_study(storage)
    gone = subprocess.Popen(["true"])
    gone.wait()
    labelled = study.ask({"lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)})
    host = socket.gethostname()
    labelled.set_user_attr(HOST_ATTR, host)
    labelled.set_user_attr(PID_ATTR, gone.pid)
    unlabelled = study.ask()  # killed before `worker_attrs` were written

    rerun = finish([worker(tmp_path, "rounds=3")])[0]
    assert "rounds done" in rerun
    assert_exact_study(storage, tracking, 3)
    failed = {
        t.number: t.user_attrs["fail_reason"]
        for t in only_study(storage).trials
        if t.state == optuna.trial.TrialState.FAIL
    }
    assert failed == {
        labelled.number: f"worker process {gone.pid} on {host} ended during the round",
        unlabelled.number: "its worker ended while reserving the round",
    }
    killed = {
        int(r.data.tags["round"]): r.data.tags["fail_reason"]
        for r in tracked_runs(tracking)[1]
        if r.info.status == "KILLED" and r.data.tags["state"] == "FAIL"
    }
    assert killed == failed


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_round_whose_worker_stopped_beating_on_another_machine_is_failed(
    tmp_path: Path,
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/studies.db", heartbeat_s=1)
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    trial.set_user_attr(HOST_ATTR, "elsewhere")  # its process cannot be looked up from here
    trial.set_user_attr(PID_ATTR, 1)
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name("s"), trial.number
    )
    storage.record_heartbeat(trial_id)
    assert fail_lost_trials(study, storage) == []  # beating recently: still alive
    time.sleep(3.5)  # past the grace period (2 × heartbeat_s; SQLite keeps whole seconds)
    assert fail_lost_trials(study, storage) == [trial.number]
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert fail_lost_trials(study, storage) == []  # once only, whoever looks next


def test_parallel_sweep_jobs_share_the_default_stores_and_keep_their_parents(
    tmp_path: Path,
) -> None:
    # Two studies, each with two workers, all started at once on the same two store files.
    procs = [
        worker(tmp_path, "rounds=3", f"conv={conv}", f"study.worker={w}")
        for conv in (1, 2)
        for w in (0, 1)
    ]
    finish(procs)
    parents, rounds = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert sorted(p.data.params["conv"] for p in parents) == ["1", "2"]
    by_parent = {p.info.run_id: 0 for p in parents}
    for r in rounds:
        if r.data.tags["state"] == "COMPLETE":
            by_parent[r.data.tags["mlflow.parentRunId"]] += 1
    assert sorted(by_parent.values()) == [3, 3]
    assert all(MlflowClient().get_run(p.info.run_id).info.status == "FINISHED" for p in parents)
