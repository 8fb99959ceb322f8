"""Typed settings of the apps, described once and validated before anything runs.

Each config group is a dataclass whose fields are the YAML keys (the YAML files keep only what
differs from the defaults); `__post_init__` checks ranges and cross-field rules with
`green_ai.config.checks`, raising a one-line `UserError`. Code below the entry points receives
these objects, never the raw `DictConfig`:

    settings = train_settings(cfg)   # TrainConfig, or a UserError naming the key
"""

from __future__ import annotations

from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from green_ai.config.energy import EnergyConfig
from green_ai.config.report import ReportConfig
from green_ai.config.tracking import TrackingConfig
from green_ai.config.train import (
    OBJECTIVES,
    PRUNERS,
    DatasetConfig,
    HparamsConfig,
    NetConfig,
    ParamRange,
    SearchConfig,
    StudyConfig,
    TrainConfig,
)
from green_ai.errors import UserError

__all__ = [
    "OBJECTIVES",
    "PRUNERS",
    "DatasetConfig",
    "EnergyConfig",
    "HparamsConfig",
    "NetConfig",
    "ParamRange",
    "ReportConfig",
    "SearchConfig",
    "StudyConfig",
    "TrackingConfig",
    "TrainConfig",
    "register_configs",
    "to_settings",
    "train_settings",
]

T = TypeVar("T")


def register_configs() -> None:
    """Put the schemas in Hydra's ConfigStore; conf/*.yaml name them in their defaults."""
    if not OmegaConf.has_resolver("gpu_count"):
        # conf/hydra/launcher/gpus.yaml: one parallel job per visible GPU.
        OmegaConf.register_new_resolver("gpu_count", _gpu_count)
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="report_schema", node=ReportConfig)
    # conf/energy/*.yaml extend this node (Hydra's extending-configs pattern).
    store.store(group="energy", name="base_energy", node=EnergyConfig)


def _gpu_count() -> int:
    import torch

    return max(1, torch.cuda.device_count())


def to_settings(cfg: DictConfig | dict[str, Any], schema: type[T]) -> T:
    """`cfg` checked against `schema` and turned into its dataclass (running every check)."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), cfg)
        settings = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "config"
        reason = str(getattr(err, "msg", None) or err).splitlines()[0]
        raise UserError(f"{key}: {reason}") from None
    assert isinstance(settings, schema)
    return settings


def train_settings(cfg: TrainConfig | DictConfig | dict[str, Any]) -> TrainConfig:
    """The training app's settings from a composed config (settings are returned as they are)."""
    return cfg if isinstance(cfg, TrainConfig) else to_settings(cfg, TrainConfig)
