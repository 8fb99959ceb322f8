"""The checked settings of one inference configuration (`conf/infer.yaml`).

`settings_from(cfg)` is the only place that reads the composed config; everything below it
receives these typed settings, whose field names are the YAML keys. Each dataclass checks its
own values in `__post_init__`, so a wrong value is one `UserError` line naming the key before a
model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from green_ai.config.infer import (
    MODES,
    WARMUP_MODES,
    InferConfig,
    ProfileSettings,
    RecommendSettings,
    WarmupSettings,
)
from green_ai.config.store import to_settings
from green_ai.devices import resolve_device
from green_ai.energy import grid_intensity
from green_ai.inference.batching import BatchingPolicy, policy_from
from green_ai.inference.classifiers import check_image_size
from green_ai.inference.stream import arrival_offsets

__all__ = [
    "MODES",
    "WARMUP_MODES",
    "ProfileSettings",
    "RecommendSettings",
    "Settings",
    "WarmupSettings",
    "checked_config",
    "policy_from",
    "settings_from",
]


@dataclass(frozen=True)
class Settings:
    """One configuration, checked. `energy` and `tracking` are the config groups that
    `green_ai.energy.build_meter` and `green_ai.tracking.setup_tracking` take."""

    mode: str
    model: str
    weights: str | None
    image_size: int
    device: torch.device
    frequency: float
    arrivals: str
    requests: int
    seed: int
    policy: BatchingPolicy
    warmup: WarmupSettings
    profile: ProfileSettings
    recommend: RecommendSettings
    cpu_threads: int | None = None
    grid_intensity_g_per_kwh: float | None = None
    grid_intensity_source: str = ""
    energy: Any = None
    tracking: Any = None

    def params(self) -> dict[str, str]:
        """The named MLflow params; settings a policy does not use are `none`."""
        p = self.policy
        return {
            "model": self.model,
            "weights": str(self.weights),
            "frequency": f"{self.frequency:g}",
            "arrivals": self.arrivals,
            "batching": p.name,
            "batch_size": str(getattr(p, "batch_size", "none")),
            "max_batch": str(getattr(p, "max_batch", "none")),
            "max_delay_s": str(getattr(p, "max_delay_s", "none")),
            "requests": str(self.requests),
            "image_size": str(self.image_size),
            "device": str(self.device),
            "seed": str(self.seed),
            "warmup": self.warmup.mode,
            "warmup_batch_size": str(self.warmup.batch_size),
            "cpu_threads": str(self.cpu_threads or torch.get_num_threads()),
            "grid_intensity_g_per_kwh": f"{self.grid_intensity_g_per_kwh:g}",
            "grid_intensity_source": self.grid_intensity_source,
        }


def checked_config(cfg: Any) -> InferConfig:
    """The composed `conf/infer.yaml` (or its `InferConfig`), checked without touching a
    device: the first problem is a `UserError` naming the key."""
    c = cfg if isinstance(cfg, InferConfig) else to_settings(cfg, InferConfig)
    # Checks frequency, requests and arrivals the way the run will use them.
    arrival_offsets(frequency=c.frequency, requests=c.requests, arrivals=c.arrivals, seed=c.seed)
    check_image_size(c.model.name, c.image_size, weights=c.model.weights)
    policy_from(c.batching)
    return c


def settings_from(cfg: Any) -> Settings:
    """Checked settings of one configuration, with its device resolved (a GPU claimed)."""
    c = checked_config(cfg)
    intensity, source = grid_intensity(c.energy.region, c.energy.grid_intensity_g_per_kwh)
    return Settings(
        mode=c.mode,
        model=c.model.name,
        weights=c.model.weights,
        image_size=c.image_size,
        device=resolve_device(c.device),
        frequency=float(c.frequency),
        arrivals=c.arrivals,
        requests=c.requests,
        seed=c.seed,
        policy=policy_from(c.batching),
        warmup=c.warmup,
        profile=c.profile,
        recommend=c.recommend,
        cpu_threads=c.cpu_threads,
        grid_intensity_g_per_kwh=intensity,
        grid_intensity_source=source,
        energy=c.energy,
        tracking=c.tracking,
    )
