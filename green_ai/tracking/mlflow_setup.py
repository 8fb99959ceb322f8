"""Where runs go and what every run is tagged with.

MLflow is imported lazily: `import mlflow` costs seconds, and `--help` or a config error
should answer at once.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from green_ai.paths import launch_dir

KIND_TRAIN_STUDY = "train_study"
KIND_TRAIN_ROUND = "train_round"
KIND_INFERENCE = "inference"

DEFAULT_URI = "sqlite:///mlflow.db"


def resolve_uri(uri: str | None) -> str:
    """Config first, then `MLFLOW_TRACKING_URI`, then the embedded SQLite store.

    A relative SQLite path is anchored at the directory the command was started from, not at
    Hydra's per-job output directory, so every job of a sweep lands in one store.
    """
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    prefix = "sqlite:///"
    if chosen.startswith(prefix) and not chosen.startswith(prefix + "/"):
        chosen = prefix + str(Path(launch_dir(), chosen[len(prefix) :]).resolve())
    return chosen


def setup_tracking(tracking_cfg: DictConfig) -> str:
    """Point MLflow at the configured store and experiment; return the experiment id."""
    import mlflow

    mlflow.set_tracking_uri(resolve_uri(tracking_cfg.get("uri")))
    experiment = mlflow.set_experiment(str(tracking_cfg.experiment))
    return str(experiment.experiment_id)


def flatten_config(cfg: DictConfig | dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The resolved config as dotted keys with string values (MLflow params)."""
    container = (
        OmegaConf.to_container(cfg, resolve=True)
        if isinstance(cfg, DictConfig | ListConfig)
        else cfg
    )
    out: dict[str, str] = {}

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else str(k))
        else:
            out[key] = str(node)[:6000]  # MLflow's param value limit

    walk(container, prefix)
    return out


def git_commit() -> str:
    """The commit of the code that ran, with `-dirty` when the tree had local changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def hydra_overrides() -> str:
    """The command-line overrides of this Hydra job, or '' outside Hydra."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return " ".join(HydraConfig.get().overrides.task)
    except ValueError:
        return ""
