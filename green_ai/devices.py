"""Which torch device to run on, and how to name it in tracked runs.

On a machine with several GPUs, the jobs of a sweep run at once (`hydra/launcher=joblib`) and
each must train, and be metered, on a GPU of its own: `device=auto` claims a free GPU from the
ones this process sees (`CUDA_VISIBLE_DEVICES`) by a lock file named after the GPU's UUID, held
until the process ends, and waits while every GPU is taken by another green_ai process.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import torch

from green_ai.errors import UserError
from green_ai.locks import try_lock

log = logging.getLogger("green_ai")

# Where the GPU claims of this machine's processes live (one lock file per GPU UUID).
LOCK_DIR_ENV = "GREEN_AI_GPU_LOCKS"
# How often a job waiting for a GPU looks again.
POLL_S = 5.0
_claimed: dict[str, tuple[int, int]] = {}  # UUID -> (lock descriptor, torch index)


def resolve_device(device: str) -> torch.device:
    """`auto` is a GPU of this job's own where there is one (see the module docstring), else
    the CPU; an unavailable device is a `UserError`."""
    if device == "auto":
        return claim_gpu() if torch.cuda.is_available() else torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise UserError(
            f"device={device!r} is not a torch device (auto, cpu, cuda, cuda:1)"
        ) from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device={device!r} but no CUDA GPU is visible; use device=auto or cpu")
    return chosen


def claim_gpu(*, wait: bool = True) -> torch.device:
    """A visible GPU that no other green_ai process of this machine holds, held from now on.

    The process keeps the GPU it claimed first (a second call returns it again). With every
    GPU taken, waits (logging once) unless `wait` is false, then raises `UserError`.
    """
    if _claimed:
        return torch.device("cuda", next(iter(_claimed.values()))[1])
    uuids = _visible_uuids()
    folder = lock_dir()
    waited = False
    while True:
        for index, uuid in enumerate(uuids):
            fd = try_lock(folder / f"{uuid}.lock")
            if fd is not None:
                _claimed[uuid] = (fd, index)
                if waited:
                    log.info("cuda:%d is free now; this job takes it", index)
                return torch.device("cuda", index)
        if not wait:
            raise UserError(
                f"all {len(uuids)} visible GPUs are in use by other green_ai jobs; wait, or "
                "choose one with device=cuda:N"
            )
        if not waited:
            log.info("all %d visible GPUs are in use by other green_ai jobs; waiting", len(uuids))
            waited = True
        time.sleep(POLL_S)


def lock_dir() -> Path:
    """The folder of GPU claims: `$GREEN_AI_GPU_LOCKS`, else one in the temporary folder."""
    folder = Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir(), "green_ai-gpus"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _visible_uuids() -> list[str]:
    """A stable name per visible GPU: its UUID (two processes may number GPUs differently)."""
    out = []
    for i in range(torch.cuda.device_count()):
        try:
            out.append(str(torch.cuda.get_device_properties(i).uuid))
        except (AttributeError, RuntimeError):
            out.append(f"index-{i}")
    return out


def device_name(device: torch.device) -> str:
    """`cpu`, or the CUDA device with its product name (`cuda:0 NVIDIA H200`)."""
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device)
