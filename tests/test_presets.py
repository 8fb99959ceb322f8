"""The thesis's designs as presets: their sweeps have the right size and run on tiny settings."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient

CONF = Path(__file__).resolve().parents[1] / "conf"
TINY = [
    "epochs=1",
    "rounds=1",
    "repetitions=1",
    "dataset.train_samples=128",
    "dataset.test_samples=64",
    "energy.idle_s=0",
    "batch_size=64",
]


def sweep_size(config: str, preset: str) -> tuple[int, dict[str, str]]:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config, overrides=[f"+experiment={preset}"], return_hydra_config=True)
    params = dict(cfg.hydra.sweeper.params)
    return math.prod(len(str(v).split(",")) for v in params.values()), params


@pytest.mark.parametrize(
    ("config", "preset", "jobs"),
    [
        ("config", "hpo_strategies", 36),
        ("config", "architecture", 16),
        ("infer", "inference_batching", 100),
    ],
)
def test_preset_sweeps_span_the_thesis_designs(config: str, preset: str, jobs: int) -> None:
    size, _ = sweep_size(config, preset)
    assert size == jobs


def test_hpo_strategies_preset_sets_the_budget_of_table_3_1() -> None:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=hpo_strategies"])
    assert (cfg.rounds, cfg.repetitions, cfg.epochs) == (64, 8, 25)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "narrow", "jobs"),
    [
        ("architecture", ["dataset=synthetic"], 8),
        ("hpo_strategies", ["dataset=synthetic", "net=simplecnn"], 6),
    ],
)
def test_training_presets_run_as_one_multirun(
    tmp_path: Path, preset: str, narrow: list[str], jobs: int
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "green_ai.train",
            "-m",
            f"+experiment={preset}",
            *narrow,
            *TINY,
            f"hydra.sweep.dir={tmp_path}/multirun",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    experiment = client.get_experiment_by_name(preset)
    runs = client.search_runs([experiment.experiment_id], "tags.`green_ai.kind` = 'train_study'")
    assert len(runs) == jobs
    assert len({r.data.tags["study_name"] for r in runs}) == jobs
