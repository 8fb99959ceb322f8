"""Telling the rounds of dead workers from those live workers are finishing.

The workers here are threads on one SQLite study; each race is repeated many times.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest

from green_ai.search.storage import open_storage
from green_ai.search.workers import HOST_ATTR, PID_ATTR, fail_lost_trials, left_by_its_worker

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage")

ROUNDS = 80


def _live_rounds(study: optuna.Study, n: int) -> list[int]:
    """`n` RUNNING trials labelled with this (live) process, as a worker labels its round."""
    numbers = []
    for _ in range(n):
        trial = study.ask()
        trial.set_user_attr(HOST_ATTR, socket.gethostname())
        trial.set_user_attr(PID_ATTR, os.getpid())
        numbers.append(trial.number)
    return numbers


def test_rounds_that_live_workers_finish_during_the_search_are_not_reported_lost(
    tmp_path: Path,
) -> None:
    # Live workers finish their rounds (outside the study's lock) while another worker looks
    # for lost ones: a round that ends during the look was counted as failed by a stale
    # heartbeat, and its MLflow run was then closed as KILLED over its COMPLETE.
    url = f"sqlite:///{tmp_path}/studies.db"
    study = optuna.create_study(study_name="s", storage=open_storage(url, heartbeat_s=60))
    numbers = _live_rounds(study, ROUNDS)
    others = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat_s=60))

    def finish_rounds() -> None:
        for number in numbers:
            others.tell(number, 0.5)
            time.sleep(0.002)

    finisher = threading.Thread(target=finish_rounds)
    finisher.start()
    reported: list[int] = []
    looks = 0
    while finisher.is_alive():
        reported += fail_lost_trials(study, study._storage)
        looks += 1
    finisher.join()
    assert looks > 10  # the looks overlapped the finishing
    assert reported == []
    states = {t.state for t in study.trials}
    assert states == {optuna.trial.TrialState.COMPLETE}


def test_a_finished_round_is_left_by_its_worker_once_that_worker_is_gone_or_long_silent() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()

    def ended(host: str, pid: int, seconds_ago: float = 0.0) -> optuna.trial.FrozenTrial:
        t = optuna.trial.create_trial(
            state=optuna.trial.TrialState.FAIL, user_attrs={HOST_ATTR: host, PID_ATTR: pid}
        )
        t.datetime_complete = datetime.now() - timedelta(seconds=seconds_ago)
        return t

    assert not left_by_its_worker(ended(here, os.getpid()), grace_s=120)
    assert left_by_its_worker(ended(here, gone.pid), grace_s=120)
    assert not left_by_its_worker(ended("elsewhere", 1), grace_s=120)  # may be closing it
    assert left_by_its_worker(ended("elsewhere", 1, seconds_ago=121), grace_s=120)
    assert left_by_its_worker(ended(here, os.getpid(), seconds_ago=121), grace_s=120)
    unlabelled = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL)
    assert left_by_its_worker(unlabelled, grace_s=120)
