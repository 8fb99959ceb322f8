"""A SLURM request checked against the partition's nodes before anything is submitted.

A request no node can satisfy does not fail at submission: SLURM keeps the jobs PENDING for
ever (`Reason=PartitionConfig`), or rejects a gres request with a long traceback. Each check
here is one line that says what the partition's nodes have and which override fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from green_ai.cluster.nodes import Node, nodes
from green_ai.errors import UserError

KEY = "hydra.launcher"


def check_request(params: Mapping[str, Any], found: Sequence[Node] | None = None) -> str:
    """Raise `UserError` unless a node of the requested partition can run one job of
    `params` (the launcher's settings); return the partition's name."""
    found = nodes() if found is None else found
    partition = _partition(params.get("partition"), found)
    members = [n for n in found if n.partition == partition]
    where = f"partition {partition!r}"
    tasks = int(params.get("tasks_per_node") or 1)
    cpus = int(params.get("cpus_per_task") or 1) * tasks
    gpus = requested_gpus(params)
    mem_gb = params.get("mem_gb")
    most_gpus = max(n.gpus for n in members)
    if gpus > most_gpus:
        has = f"at most {most_gpus} GPUs" if most_gpus else "no GPUs"
        fix = (
            f"set {KEY}.gpus_per_node={most_gpus}" if most_gpus else "use hydra/launcher=slurm_cpu"
        )
        raise UserError(
            f"{where} has {has} per node ({_describe(members)}) but the request asks for"
            f" {gpus}; {fix}, or a partition with GPUs ({KEY}.partition=NAME)"
        )
    most_cpus = max(n.cpus for n in members)
    if cpus > most_cpus:
        raise UserError(
            f"{KEY}.cpus_per_task={params.get('cpus_per_task')} asks for {cpus} CPUs per node"
            f" but the nodes of {where} have at most {most_cpus}; set"
            f" {KEY}.cpus_per_task={max(1, most_cpus // tasks)} or fewer"
        )
    most_mb = max(n.memory_mb for n in members)
    if mem_gb is not None and float(mem_gb) * 1024 > most_mb:
        raise UserError(
            f"{KEY}.mem_gb={mem_gb} is more memory than any node of {where} has"
            f" (at most {most_mb} MB); set {KEY}.mem_gb={most_mb // 1024} or less"
        )
    need_mb = float(mem_gb or 0) * 1024
    if not [n for n in members if n.cpus >= cpus and n.gpus >= gpus and n.memory_mb >= need_mb]:
        raise UserError(
            f"no node of {where} has {cpus} CPUs, {mem_gb} GB and {gpus} GPUs together"
            f" ({_describe(members)}); lower {KEY}.cpus_per_task or {KEY}.mem_gb"
        )
    _check_time(params.get("timeout_min"), members, where)
    return partition


def requested_gpus(params: Mapping[str, Any]) -> int:
    """GPUs per node asked by `gpus_per_node` or a `gres=gpu:N` request."""
    gpus = params.get("gpus_per_node")
    if isinstance(gpus, str):  # `a100:2`
        gpus = gpus.rsplit(":", 1)[-1]
    count = int(gpus or 0)
    gres = params.get("gres")
    if gres:
        from green_ai.cluster.nodes import gpu_count

        count = max(count, gpu_count(str(gres)))
    return count


def _partition(name: str | None, found: Sequence[Node]) -> str:
    names = sorted({n.partition for n in found})
    if not names:
        raise UserError("the SLURM cluster lists no partitions (`sinfo` printed none)")
    default = next((n.partition for n in found if n.default), None)
    offer = ", ".join(f"{p} (default)" if p == default else p for p in names)
    if name is None:
        if default is None:
            raise UserError(
                f"the SLURM cluster has no default partition; set {KEY}.partition to one of:"
                f" {offer}"
            )
        return default
    if name not in names:
        pick = names[0] if len(names) == 1 else "one of them"
        raise UserError(
            f"partition {name!r} does not exist on this SLURM cluster; its partitions: {offer};"
            f" set {KEY}.partition={pick}"
        )
    return name


def _check_time(timeout_min: Any, members: Sequence[Node], where: str) -> None:
    limits = [n.time_limit_min for n in members]
    if timeout_min is None or any(limit is None for limit in limits):
        return
    limit = max(x for x in limits if x is not None)
    if int(timeout_min) > limit:
        raise UserError(
            f"{KEY}.timeout_min={timeout_min} is longer than {where} allows ({limit} min);"
            f" set {KEY}.timeout_min={limit} or less (a study resumes in its requeued job)"
        )


def _describe(members: Sequence[Node]) -> str:
    """`vm: 2 CPUs, 7 GB, no GPUs` for each distinct kind of node (a few at most)."""
    kinds: dict[tuple[int, int, int], list[str]] = {}
    for n in members:
        kinds.setdefault((n.cpus, n.memory_mb // 1024, n.gpus), []).append(n.name)
    parts = []
    for (cpus, gb, gpus), names in list(kinds.items())[:3]:
        who = names[0] if len(names) == 1 else f"{len(names)} nodes"
        gpu = f"{gpus} GPUs" if gpus else "no GPUs"
        parts.append(f"{who}: {cpus} CPUs, {gb} GB, {gpu}")
    return "; ".join(parts)


def mem_gb_for(samples: int, values_per_sample: int) -> int:
    """Memory for one study: the interpreter with torch (~1.5 GB) and the dataset held as
    float32 tensors twice (the tensors and a batch copy), in whole GB."""
    data_gb = samples * values_per_sample * 4 * 2 / 1024**3
    return max(2, math.ceil(1.5 + data_gb))


# (samples, channels, side) of the datasets green_ai reads whole into memory.
SIZES = {
    "mnist": (70_000, 1, 28),
    "fashion_mnist": (70_000, 1, 28),
    "kmnist": (70_000, 1, 28),
    "emnist": (814_255, 1, 28),
    "cifar10": (60_000, 3, 32),
    "cifar100": (60_000, 3, 32),
    "svhn": (99_289, 3, 32),
    "stl10": (13_000, 3, 96),
}
UNKNOWN_GB = 8


def study_mem_gb(dataset: Mapping[str, Any]) -> int:
    """The memory a study of `dataset` (the `dataset` config) asks SLURM for when `mem_gb` is
    not set: its images as the loader holds them, plus the interpreter."""
    name = str(dataset.get("name"))
    kind = str(dataset.get("shape")) if name == "synthetic" else name
    if kind not in SIZES:
        return UNKNOWN_GB
    samples, channels, side = SIZES[kind]
    if name == "synthetic":
        samples = int(dataset.get("train_samples") or 0) + int(dataset.get("test_samples") or 0)
    else:
        train, test = dataset.get("train_samples"), dataset.get("test_samples")
        if train and test:
            samples = min(samples, int(train) + int(test))
    side = int(dataset.get("image_size") or side)
    return mem_gb_for(samples, channels * side * side)
