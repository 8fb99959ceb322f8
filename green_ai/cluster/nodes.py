"""What a SLURM cluster offers and what its jobs are doing, asked of `sinfo` and `squeue`.

Only the commands every cluster has: `sacct` needs an accounting database that small clusters
often lack, so a job's end is read from `squeue` (which lists ended jobs for `MinJobAge`) and
from the result file submitit leaves.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from green_ai.errors import UserError

# Pending reasons that no wait clears: the request exceeds what the partition allows.
HOPELESS = (
    "PartitionConfig",
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "QOSMaxWallDurationPerJobLimit",
)
# A reason that clears when an administrator returns the nodes: hopeless only once it lasts.
UNAVAILABLE = "ReqNodeNotAvail"
# squeue's states of a job that has ended.
ENDED = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "TIMEOUT",
}


@dataclass(frozen=True)
class Node:
    """One node of one partition as `sinfo -N` lists it."""

    partition: str
    default: bool
    name: str
    cpus: int
    memory_mb: int
    gpus: int
    time_limit_min: int | None  # the partition's; None = no limit


def run(command: Sequence[str], timeout_s: float = 30) -> str:
    """A SLURM command's output; a missing command or a cluster that does not answer is the
    user's to fix (SLURM_CONF, the daemons), in one line."""
    try:
        out = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError:
        raise UserError(
            f"`{command[0]}` not found: hydra/launcher=slurm needs SLURM's commands on PATH;"
            " run the sweep on the cluster's login node"
        ) from None
    except subprocess.TimeoutExpired:
        raise UserError(f"`{' '.join(command)}` did not answer in {timeout_s:.0f} s") from None
    if out.returncode != 0:
        message = (out.stderr or out.stdout).strip().splitlines() or [f"exit {out.returncode}"]
        raise SlurmError(f"`{' '.join(command)}`: {message[-1]}")
    return out.stdout


class SlurmError(UserError):
    """A SLURM command failed."""


def nodes() -> list[Node]:
    """Every node of every partition (a node in two partitions is listed twice)."""
    try:
        out = run(["sinfo", "-h", "-N", "-o", "%P|%N|%c|%m|%G|%l"])
    except SlurmError as err:
        raise UserError(
            f"cannot ask the SLURM cluster what it offers: {err}; run the sweep where SLURM's"
            " commands work (its login node; SLURM_CONF names its slurm.conf)"
        ) from None
    found = []
    for line in out.splitlines():
        partition, name, cpus, memory, gres, limit = line.strip().split("|")
        found.append(
            Node(
                partition=partition.rstrip("*"),
                default=partition.endswith("*"),
                name=name,
                cpus=int(cpus.rstrip("+")),
                memory_mb=int(memory.rstrip("+")),
                gpus=gpu_count(gres),
                time_limit_min=minutes(limit),
            )
        )
    return found


def gpu_count(gres: str) -> int:
    """The GPUs in a gres string: `gpu:4`, `gpu:a100:2(S:0-1),gpu:v100:1`, `(null)`."""
    total = 0
    for item in gres.split(","):
        fields = re.sub(r"\(.*?\)", "", item).split(":")
        if fields[0] == "gpu" and len(fields) > 1 and fields[-1].isdigit():
            total += int(fields[-1])
    return total


def minutes(limit: str) -> int | None:
    """SLURM's time format (`30:00`, `2:00:00`, `1-12:00:00`, `infinite`) in whole minutes."""
    if limit in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 1 and not days:
        parts = [0, parts[0], 0]  # `MM` alone
    elif days:
        parts += [0] * (3 - len(parts))  # `D-HH[:MM[:SS]]`
    else:
        parts = [0] * (3 - len(parts)) + parts  # `MM:SS` or `HH:MM:SS`
    hours, mins, secs = parts
    return (int(days or 0) * 24 + hours) * 60 + mins + (1 if secs else 0)


@dataclass(frozen=True)
class QueueState:
    """A job as `squeue` shows it: its state and, when pending, why."""

    state: str
    reason: str


def queue(job_ids: Sequence[str]) -> dict[str, QueueState] | None:
    """The jobs (array tasks one by one) that SLURM still knows, by id; None when squeue did
    not answer this time (ask again later)."""
    if not job_ids:
        return {}
    arrays = sorted({j.split("_")[0] for j in job_ids})
    command = ["squeue", "-h", "-r", "-t", "all", "-j", ",".join(arrays), "-o", "%i|%T|%r"]
    try:
        out = run(command)
    except SlurmError as err:
        if "Invalid job id" in str(err):
            return {}  # all ended long enough ago that SLURM forgot them
        return None
    except UserError:
        return None
    found = {}
    for line in out.splitlines():
        job_id, state, reason = line.strip().split("|", 2)
        found[job_id] = QueueState(state, reason)
    return found


def cancel(job_ids: Sequence[str], *, signal: str | None = None) -> None:
    """`scancel` the jobs (all of them in one call)."""
    if job_ids:
        run(["scancel", *([f"--signal={signal}"] if signal else []), *job_ids])
