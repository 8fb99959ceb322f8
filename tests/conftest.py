"""Shared fixtures: a composed, shrunk training config and per-test stores; the `slow` rule.

Tests compose the real `conf/` with Hydra's compose API (no subprocess), shrink it to a few
hundred synthetic images on the CPU, and give each test its own MLflow and Optuna databases.

`bash scripts/test.sh --fast` runs the tests not marked `slow`. A test is slow when it starts
processes, trains for real for more than a moment, races or waits, or takes over ~1 s on a
quiet 2-core machine: every test under SLOW_PATHS is, others by `@pytest.mark.slow`. A fast
run lists the unmarked tests that took longer, so that a new slow test is seen and marked.
"""

from __future__ import annotations

import random
import signal
from collections import defaultdict
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

# Folders and modules where every test starts processes, trains or waits on a store: a new
# test there is slow without a decorator. Paths from the repository root.
SLOW_PATHS = (
    "tests/scripts/",  # the repository's scripts end to end (benchmarks with --smoke, GPU check)
    "tests/search/",  # studies that train, workers in processes, stores, PostgreSQL
    "tests/test_help.py",  # one `--help` process per app
    "tests/test_train_cli.py",  # the train command in a process
    "tests/tracking/test_mlflow_setup.py",  # an MLflow store per test (schema migrations)
    "tests/tracking/test_optuna_dashboard.py",  # a study through the dashboard's web app
)
# A fast run names the unmarked tests that took longer than this (set-up and teardown
# included): twice the ~1 s rule, as the machines running it are shared.
UNMARKED_LIMIT_S = 2.0

_unmarked_s: defaultdict[str, float] = defaultdict(float)


@pytest.hookimpl(tryfirst=True)  # before `-m` selects on the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).resolve()
        if path.is_relative_to(ROOT) and path.relative_to(ROOT).as_posix().startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if item.get_closest_marker("slow") is None:
        _unmarked_s[item.nodeid] += call.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    over = [(s, t) for t, s in _unmarked_s.items() if s > UNMARKED_LIMIT_S]
    if not over:
        return
    terminalreporter.section("tests over the fast tier's limit")
    terminalreporter.write_line(
        f"not marked slow, over {UNMARKED_LIMIT_S:g} s each (mark them slow or speed them up;"
        " a loaded machine stretches every time):"
    )
    for seconds, test in sorted(over, reverse=True):
        terminalreporter.write_line(f"{seconds:6.1f} s  {test}")


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
