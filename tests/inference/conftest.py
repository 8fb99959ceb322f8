"""Shared set-up for the inference tests: one torch thread, configs composed like the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

CONF = Path(__file__).resolve().parents[2] / "conf"

# A run small enough for a shared 2-core machine: a small model, tiny images, few requests.
TINY = [
    "model.name=shufflenet_v2_x0_5",
    "image_size=32",
    "device=cpu",
    "cpu_threads=1",
    "warmup.batches=1",
    "warmup.batch_size=2",
    "requests=24",
    "frequency=400",
    "energy=estimate",
]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # The machines running the tests are shared; one thread also steadies real-time runs.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def infer_cfg(tmp_path: Path) -> Iterator[Callable[..., DictConfig]]:
    """`conf/infer.yaml` composed with overrides; profiles and the MLflow store in `tmp_path`."""

    def make(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                config_name="infer",
                overrides=[
                    f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                    f"profile.path={tmp_path}/profile.json",
                    *overrides,
                ],
            )

    yield make
    GlobalHydra.instance().clear()
