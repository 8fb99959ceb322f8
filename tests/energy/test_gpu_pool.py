"""Parallel jobs on one multi-GPU machine: each claims a GPU of its own and meters only it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from green_ai import devices
from green_ai.energy import EnergyConfig, build_meter
from green_ai.errors import UserError
from green_ai.locks import try_lock

from .fakes import FakeClock, FakeGPU

UUIDS = [
    "GPU-11111111-aaaa-4000-8000-000000000000",
    "GPU-22222222-bbbb-4000-8000-000000000000",
    "GPU-33333333-cccc-4000-8000-000000000000",
]

# A process that sees three GPUs (torch.cuda faked), claims one and holds it until stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys, types, torch
    uuids = sys.argv[1].split(",")
    torch.cuda.is_available = lambda: True
    torch.cuda.device_count = lambda: len(uuids)
    torch.cuda.get_device_properties = lambda i: types.SimpleNamespace(uuid=uuids[i][4:])
    from green_ai.devices import claim_gpu
    from green_ai.errors import UserError
    try:
        print(claim_gpu(wait=False).index, flush=True)
    except UserError as err:
        print("busy:", err, flush=True)
        sys.exit(3)
    sys.stdin.read()
    """
)


def fake_cuda(monkeypatch: pytest.MonkeyPatch, uuids: list[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(uuids))
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda i: types.SimpleNamespace(uuid=uuids[int(i)][4:], name=f"GPU{i}"),
    )
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: None)


def holder(locks: Path) -> subprocess.Popen[str]:
    env = {**os.environ, devices.LOCK_DIR_ENV: str(locks)}
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, ",".join(UUIDS)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_parallel_jobs_take_distinct_gpus_and_a_killed_jobs_gpu_is_free_again(
    tmp_path: Path,
) -> None:
    jobs = [holder(tmp_path) for _ in range(3)]
    try:
        taken = [int(p.stdout.readline()) for p in jobs]  # type: ignore[union-attr]
        assert sorted(taken) == [0, 1, 2]
        fourth = holder(tmp_path)
        out = fourth.communicate("", timeout=120)[0]
        assert fourth.returncode == 3 and "all 3 visible GPUs are in use" in out
        jobs[1].kill()  # SIGKILL: the kernel releases its lock
        jobs[1].wait()
        again = holder(tmp_path)
        assert int(again.stdout.readline()) == taken[1]  # type: ignore[union-attr]
        again.communicate("", timeout=120)
    finally:
        for p in jobs:
            if p.poll() is None:
                p.communicate("", timeout=120)


def test_a_job_meters_only_its_own_gpu(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    install_nvml: Callable[..., Any],
) -> None:
    fake_cuda(monkeypatch, UUIDS)
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(devices, "_claimed", {})
    install_nvml([FakeGPU(u, power_w=lambda t, w=100.0 * (i + 1): w) for i, u in enumerate(UUIDS)])
    other_job = try_lock(tmp_path / f"{UUIDS[0][4:]}.lock")  # another job holds GPU 0
    assert other_job is not None
    try:
        device = devices.resolve_device("auto")
        assert device == torch.device("cuda", 1)
        meter = build_meter(
            EnergyConfig(backend="nvml", counter=False),
            device,
            clock=clock,
            sleep=clock.sleep,
            threaded=False,
        )
        start = clock.t
        meter.begin("job")
        clock.t = start + 2.0
        m = meter.end("job")
        meter.close()
    finally:
        os.close(other_job)
    # GPU 1 draws 200 W: 400 J in 2 s. The sum of all three GPUs would be 1200 J.
    assert m.energy_j == pytest.approx(400.0)
    assert list(m.per_device_j) == ["cuda:1"]


def test_no_free_gpu_without_waiting_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cuda(monkeypatch, UUIDS[:1])
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(devices, "_claimed", {})
    held = try_lock(tmp_path / f"{UUIDS[0][4:]}.lock")
    try:
        with pytest.raises(UserError, match="device=cuda:N"):
            devices.claim_gpu(wait=False)
    finally:
        assert held is not None
        os.close(held)
