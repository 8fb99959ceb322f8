"""Shared fixtures: a composed, shrunk training config and per-test stores.

Tests compose the real `conf/` with Hydra's compose API (no subprocess), shrink it to a few
hundred synthetic images on the CPU, and give each test its own MLflow and Optuna databases.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from green_ai.config.store import register_configs

# conf/*.yaml name the typed schemas; the apps register them at import, tests here.
register_configs()

# Ctrl-C tests send SIGINT as a terminal does. A suite started in the background by a
# non-interactive shell (`cmd &` in a script, nohup) inherits SIGINT ignored, and so would
# every command it starts: Python then installs no KeyboardInterrupt handler and the tests
# wait out their commands. Handled here, it is SIG_DFL again in the commands (exec resets it).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

TINY = [
    "dataset=synthetic",
    "dataset.train_samples=256",
    "dataset.test_samples=128",
    "epochs=1",
    "rounds=2",
    "repetitions=2",
    "batch_size=64",
    "device=cpu",
    "progress=none",
    "energy=none",
    "conv=1",
    "linear=2",
]


@pytest.fixture(autouse=True)
def _restore_global_state() -> Iterator[None]:
    """Each test starts with one torch thread, fresh RNG state and no Hydra singleton."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    yield
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])
    torch.set_num_threads(threads)
    GlobalHydra.instance().clear()


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose `config.yaml` with TINY and the given overrides, stores under tmp_path."""

    def _make(*overrides: str, config_name: str = "config") -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(
                config_name,
                overrides=[
                    *TINY,
                    f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                    f"study.storage=sqlite:///{tmp_path}/studies.db",
                    *overrides,
                ],
            )
        with open_dict(cfg):
            cfg.pop("hydra", None)
        return cfg

    return _make
