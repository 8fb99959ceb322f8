"""Sweeps on a real SLURM cluster as a user runs them (thesis §3.3: an interrupted round is
recorded as failed and redone, never counted): the CPU preset, the GPU preset on CPU nodes,
SLURM's requeue signal mid-round, a job stopped for good, Ctrl-C on the launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from search.workers import TINY, _user_env, only_study, tracked_runs, train

from .slurm import LocalSlurm

pytestmark = pytest.mark.slow


def tiny(*overrides: str) -> list[str]:
    """TINY with `overrides` in place of its own values of the same keys."""
    keys = {o.split("=")[0] for o in overrides}
    return [o for o in TINY if o.split("=")[0] not in keys] + list(overrides)


CPU = ["hydra/launcher=slurm_cpu", "hydra.launcher.timeout_min=20"]
SWEEP = tiny("net=simplecnn", "conv=1,4", "relu=0,1", "rounds=2")
# Rounds of a few seconds, so that a signal finds one in flight.
LONGER = tiny(
    "net=simplecnn", "conv=1,4", "relu=0,1", "rounds=2", "dataset.train_samples=3000", "epochs=2"
)


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """The launcher as a terminal starts it (SIGINT as Ctrl-C), output to `cwd/out.txt`."""
    return subprocess.Popen(
        [sys.executable, "-m", "green_ai.train", "-m", *args],
        cwd=cwd,
        env=_user_env(),
        stdout=(cwd / "out.txt").open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
    )


def job_in_round(cwd: Path, timeout_s: float = 120) -> str:
    """The SLURM id of the first job whose log shows a finished round (another is in flight)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for log in sorted(cwd.glob("multirun/*/*/.submitit/*/*_log.out")):
            if "round 0:" in log.read_text():
                return log.parent.name
        time.sleep(0.5)
    raise AssertionError(f"no round finished in {timeout_s} s:\n{_out(cwd)}")


def _out(cwd: Path) -> str:
    return (cwd / "out.txt").read_text()[-4000:] if (cwd / "out.txt").exists() else ""


def queue(slurm: LocalSlurm) -> list[str]:
    return slurm.run("squeue", "-h", "-o", "%i %T").stdout.split("\n")[:-1]


def wait_empty_queue(slurm: LocalSlurm, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while queue(slurm) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert queue(slurm) == []


def trials(cwd: Path) -> list[tuple[int, str, str | None]]:
    study = only_study(f"sqlite:///{cwd}/studies.db")
    return [(t.number, t.state.name, t.user_attrs.get("fail_reason")) for t in study.trials]


def test_the_2x2_sweep_runs_with_slurm_cpu(slurm: LocalSlurm, tmp_path: Path) -> None:
    out = train(tmp_path, "-m", *CPU, *SWEEP)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    parents, rounds = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    cells = sorted((p.data.params["conv"], p.data.params["relu"]) for p in parents)
    assert cells == [("1", "0"), ("1", "1"), ("4", "0"), ("4", "1")]
    assert all(p.info.status == "FINISHED" for p in parents)
    assert sum(r.data.tags["state"] == "COMPLETE" for r in rounds) == 8
    assert len(list(tmp_path.glob("multirun/*/*/summary.csv"))) == 1
    assert "Bypassing" not in text  # no accounting here: nothing asked sacct
    wait_empty_queue(slurm)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["hydra/launcher=slurm"], "partition 'debug' has no GPUs per node"),
        ([*CPU, "hydra.launcher.partition=gpu"], "partition 'gpu' does not exist"),
        (["hydra/launcher=slurm_cpu", "hydra.launcher.timeout_min=600"], "timeout_min=600"),
        ([*CPU, "hydra.launcher.mem_gb=4096"], "mem_gb=4096 is more memory"),
    ],
    ids=["gpu-preset-on-cpu-nodes", "no-such-partition", "time-limit", "memory"],
)
def test_a_request_no_node_fits_is_one_line_and_nothing_is_submitted(
    slurm: LocalSlurm, tmp_path: Path, overrides: list[str], expected: str
) -> None:
    out = train(tmp_path, "-m", *overrides, *SWEEP)
    assert out.returncode == 2, (out.stdout + out.stderr)[-4000:]
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("error: ") and expected in line, line
    assert "set hydra.launcher." in line or "hydra/launcher=slurm_cpu" in line, line
    assert queue(slurm) == []
    assert not (tmp_path / "multirun").exists()


def test_usr2_mid_round_fails_the_round_at_once_and_the_requeued_job_ends_exact(
    slurm: LocalSlurm, tmp_path: Path
) -> None:
    proc = start(tmp_path, *CPU, *tiny("rounds=3", "dataset.train_samples=3000", "epochs=2"))
    job = job_in_round(tmp_path)
    slurm.run("scancel", "--signal=USR2", job)
    deadline = time.monotonic() + 10  # recorded by the job itself, not by a later clean-up
    while ("FAIL" not in [s for _, s, _ in trials(tmp_path)]) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert (1, "FAIL", "preempted") in trials(tmp_path), trials(tmp_path)
    (parent,), rounds = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    killed = [r for r in rounds if r.info.status == "KILLED"]
    assert [r.data.tags["round"] for r in killed] == ["1"]
    assert parent.info.status == "RUNNING"  # left open for the requeued job
    assert parent.data.tags["stop_reason"].startswith("preempted: requeued")
    assert proc.wait(timeout=300) == 0, _out(tmp_path)
    states = [s for _, s, _ in trials(tmp_path)]
    assert states.count("COMPLETE") == 3 and "RUNNING" not in states, states
    (parent,), _ = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert parent.info.status == "FINISHED"
    assert "(2 attempts)" in _out(tmp_path)


def test_a_job_stopped_for_good_leaves_the_summary_and_the_rerun_ends_exact(
    slurm: LocalSlurm, tmp_path: Path
) -> None:
    sweep = [*CPU, *LONGER]
    proc = start(tmp_path, *sweep)
    job = job_in_round(tmp_path)
    slurm.run("scancel", "--signal=TERM", job)
    assert proc.wait(timeout=300) == 1, _out(tmp_path)
    out = _out(tmp_path)
    assert "Traceback" not in out, out
    assert "no result" in out
    assert f"(SLURM {job}) failed: JobStoppedError: terminated (SIGTERM); log: " in out
    assert f"python -m green_ai.train -m {' '.join(sweep)}" in out
    (summary,) = tmp_path.glob("multirun/*/*/summary.csv")
    assert len(summary.read_text().splitlines()) == 1 + 3  # the three jobs that finished
    parents, _ = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert [p.info.status for p in parents].count("KILLED") == 1
    rerun = train(tmp_path, "-m", *sweep)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    for name in optuna.get_all_study_names(f"sqlite:///{tmp_path}/studies.db"):
        study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/studies.db")
        states = [t.state.name for t in study.trials]
        assert states.count("COMPLETE") == 2 and "RUNNING" not in states, states


def test_ctrl_c_on_the_launcher_cancels_its_jobs(slurm: LocalSlurm, tmp_path: Path) -> None:
    proc = start(tmp_path, *CPU, *LONGER)
    job_in_round(tmp_path)
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 130, _out(tmp_path)
    assert "cancelled 4 SLURM jobs" in _out(tmp_path)
    wait_empty_queue(slurm)
    parents, rounds = tracked_runs(f"sqlite:///{tmp_path}/mlflow.db")
    assert [r for r in rounds + parents if r.info.status == "RUNNING"] == []
    assert any(r.data.tags.get("fail_reason") == "terminated (SIGTERM)" for r in rounds)


def test_a_job_pending_for_good_is_cancelled_and_reported(
    slurm: LocalSlurm, tmp_path: Path
) -> None:
    # A time limit past the partition's, given where the preflight does not look: SLURM
    # accepts the job and keeps it PENDING (Reason=PartitionConfig) for ever.
    started = time.monotonic()
    out = train(tmp_path, "-m", *CPU, *tiny(), "+hydra.launcher.additional_parameters.time=45")
    assert out.returncode == 1, (out.stdout + out.stderr)[-4000:]
    assert time.monotonic() - started < 60
    assert "cannot clear (Reason=Partition" in out.stderr and "): cancelled; log: " in out.stderr
    assert "Traceback" not in out.stderr
    wait_empty_queue(slurm)
