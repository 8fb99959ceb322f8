"""The schemas in Hydra's ConfigStore, and composed configs turned into typed settings."""

from __future__ import annotations

from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from green_ai.config.energy import EnergyConfig
from green_ai.config.infer import InferConfig
from green_ai.config.report import ReportConfig
from green_ai.config.tracking import MeasureConfig
from green_ai.config.train import TrainConfig
from green_ai.errors import UserError

__all__ = ["register_configs", "to_settings", "train_settings"]

T = TypeVar("T")


def register_configs() -> None:
    """Put the schemas in Hydra's ConfigStore; conf/*.yaml name them in their defaults."""
    if not OmegaConf.has_resolver("gpu_count"):
        # conf/hydra/launcher/gpus.yaml: one parallel job per visible GPU.
        OmegaConf.register_new_resolver("gpu_count", _gpu_count)
    store = ConfigStore.instance()
    store.store(name="train_schema", node=TrainConfig)
    store.store(name="report_schema", node=ReportConfig)
    store.store(name="infer_schema", node=InferConfig)
    store.store(name="measure_schema", node=MeasureConfig)
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
