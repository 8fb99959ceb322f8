"""The 2×2 sweep under Hydra's launchers, from an empty directory, as a user runs it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from search.workers import TINY, tracked_runs, train

from green_ai.cluster.nodes import Node, QueueState, gpu_count, minutes
from green_ai.cluster.preflight import check_request, study_mem_gb
from green_ai.cluster.watch import _ended, read_outcome
from green_ai.errors import UserError

CONF = Path(__file__).resolve().parents[1] / "conf"
SWEEP = ["net=simplecnn", "conv=1,4", "relu=0,1", "rounds=2"]
SWEEP += [o for o in TINY if not o.startswith("conv=")]


def assert_four_studies(cwd: Path) -> None:
    parents, rounds = tracked_runs(f"sqlite:///{cwd}/mlflow.db")
    cells = sorted((p.data.params["conv"], p.data.params["relu"]) for p in parents)
    assert cells == [("1", "0"), ("1", "1"), ("4", "0"), ("4", "1")]
    assert all(p.info.status == "FINISHED" for p in parents)
    assert sum(r.data.tags["state"] == "COMPLETE" for r in rounds) == 8


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20"],
    ],
    ids=["joblib", "submitit_local"],
)
def test_the_2x2_sweep_runs_under_a_parallel_launcher(tmp_path: Path, launcher: list[str]) -> None:
    out = train(tmp_path, "-m", *launcher, *SWEEP)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert_four_studies(tmp_path)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("slurm", {"gpus_per_node": 1, "tasks_per_node": 1, "timeout_min": 1440}),
        ("slurm_cpu", {"gpus_per_node": None, "cpus_per_task": 1, "mem_gb": None}),
        ("gpus", {"n_jobs": 1}),  # one job per visible GPU, at least one (none here)
    ],
)
def test_launcher_presets_compose(preset: str, expected: dict[str, int | None]) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", [f"hydra/launcher={preset}"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert isinstance(launcher, dict)
    assert {k: launcher[k] for k in expected} == expected


def _nodes(gpus: int = 0, limit: int | None = 60) -> list[Node]:
    """`sinfo`'s view of a cluster: partition `cpu` (default) of two 2-CPU nodes with 7.8 GB,
    and `gpu`, one node with 16 CPUs, 64 GB and `gpus` GPUs."""
    cpu = [Node("cpu", True, f"c{i}", 2, 8000, 0, limit) for i in (1, 2)]
    return [*cpu, Node("gpu", False, "g1", 16, 65536, gpus, None)]


GPU_PRESET = {"gpus_per_node": 1, "tasks_per_node": 1, "cpus_per_task": 8, "mem_gb": 32}


@pytest.mark.parametrize(
    ("params", "nodes", "expected"),
    [
        (GPU_PRESET, _nodes(), "partition 'cpu' has no GPUs per node"),
        ({**GPU_PRESET, "partition": "gpu"}, _nodes(), "use hydra/launcher=slurm_cpu"),
        ({**GPU_PRESET, "partition": "gpu", "gpus_per_node": 4}, _nodes(2), "gpus_per_node=2"),
        ({"partition": "big"}, _nodes(), "partition 'big' does not exist"),
        ({"cpus_per_task": 4}, _nodes(), "cpus_per_task=2 or fewer"),
        ({"mem_gb": 8}, _nodes(), "set hydra.launcher.mem_gb=7 or less"),
        ({"timeout_min": 90}, _nodes(), "set hydra.launcher.timeout_min=60 or less"),
        ({"gres": "gpu:1"}, _nodes(), "has no GPUs per node"),
    ],
)
def test_a_request_no_node_fits_names_what_the_nodes_have(
    params: dict[str, object], nodes: list[Node], expected: str
) -> None:
    with pytest.raises(UserError, match=expected.replace("(", r"\(")):
        check_request(params, nodes)


def test_a_request_a_node_fits_passes_and_names_its_partition() -> None:
    assert check_request({"cpus_per_task": 2, "mem_gb": 7, "timeout_min": 60}, _nodes()) == "cpu"
    fits = {**GPU_PRESET, "partition": "gpu", "timeout_min": 10_000}
    assert check_request(fits, _nodes(gpus=2)) == "gpu"  # no time limit there


def test_sinfo_fields_are_read_as_slurm_writes_them() -> None:
    assert [minutes(t) for t in ("30:00", "2:00:00", "1-12:00:00", "infinite")] == [
        30,
        120,
        2160,
        None,
    ]
    assert gpu_count("gpu:a100:2(S:0-1),gpu:v100:1,shard:8") == 3
    assert gpu_count("(null)") == 0
    assert [minutes(t) for t in ("45", "1-12", "5:30")] == [45, 36 * 60, 6]  # MM, D-HH, MM:SS


def test_the_memory_asked_for_grows_with_the_dataset() -> None:
    small = study_mem_gb({"name": "synthetic", "shape": "fashion_mnist", "train_samples": 128})
    assert small == 2
    cifar = study_mem_gb({"name": "cifar10"})
    assert 2 <= cifar < study_mem_gb({"name": "cifar10", "image_size": 224})
    assert study_mem_gb({"name": "my_own"}) == 8


class _Job:
    """What the watch reads of a submitit job: its id and its result file."""

    def __init__(self, folder: Path) -> None:
        self.job_id = "7_0"
        self.paths = SimpleNamespace(
            result_pickle=folder / "7_0_result.pkl", stdout=folder / "7_0_0_log.out"
        )


@pytest.mark.parametrize(
    ("state", "kind", "failure"),
    [
        (None, "gone", "gone from SLURM's queue without a result"),
        (QueueState("OUT_OF_MEMORY", "OutOfMemory"), "gone", "ended OUT_OF_MEMORY (OutOfMemory)"),
        (QueueState("PENDING", "PartitionConfig"), "hopeless", "cannot clear"),
        (QueueState("PENDING", "ReqNodeNotAvail, UnavailableNodes:n1"), "unavailable", "stayed"),
        (QueueState("PENDING", "Resources"), "", None),
        (QueueState("RUNNING", "None"), "", None),
    ],
)
def test_a_job_without_a_result_ends_by_what_squeue_says(
    tmp_path: Path, state: QueueState | None, kind: str, failure: str | None
) -> None:
    found, outcome = _ended(_Job(tmp_path), state)
    assert found == kind
    if failure is None:
        assert outcome is None
    else:
        assert outcome is not None and failure in str(outcome.failure)


def test_a_job_result_file_is_its_outcome_whatever_squeue_says(tmp_path: Path) -> None:
    from submitit.core.utils import cloudpickle_dump

    job = _Job(tmp_path)
    stopped = "green_ai.cluster.launcher.JobStoppedError: terminated (SIGTERM)"
    trace = f"Traceback (most recent call last):\n  ...\n{stopped}\n"
    cloudpickle_dump(("error", trace), job.paths.result_pickle)
    kind, outcome = _ended(job, QueueState("RUNNING", "None"))
    assert kind == "done" and outcome is not None
    assert outcome.failure == "JobStoppedError: terminated (SIGTERM)"
    cloudpickle_dump(("success", "the JobReturn"), job.paths.result_pickle)
    assert read_outcome(job).result == "the JobReturn"
