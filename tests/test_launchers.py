"""The 2×2 sweep under Hydra's launchers, from an empty directory, as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from search.workers import TINY, tracked_runs, train

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
        ("gpus", {"n_jobs": 1}),  # one job per visible GPU, at least one (none here)
    ],
)
def test_launcher_presets_compose(preset: str, expected: dict[str, int]) -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", [f"hydra/launcher={preset}"], return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert isinstance(launcher, dict)
    assert {k: launcher[k] for k in expected} == expected
