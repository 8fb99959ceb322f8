"""Study names: readable, and the same for the same computation so a rerun resumes it."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from omegaconf import DictConfig

from green_ai.config.store import train_settings
from green_ai.config.train import TrainConfig

# Settings that do not change what a study computes: a rerun that differs only in these
# continues the same study (rounds=3 after rounds=2 adds one round).
NOT_IDENTITY = ("rounds", "tracking", "study", "energy", "progress", "verbose", "device")


def study_name(cfg: TrainConfig | DictConfig) -> str:
    """`study.name` if set, else the cell's factors plus a hash of everything else it computes."""
    settings = train_settings(cfg)
    if settings.study.name:
        return settings.study.name
    identity = {k: v for k, v in dataclasses.asdict(settings).items() if k not in NOT_IDENTITY}
    search = {k: v for k, v in identity["search"].items() if k != "energy_budget_j"}
    # Without a pruner a study computes what it did before pruners existed: same name.
    if search["pruner"] == "none":
        del search["pruner"]
    if not search["pruner_options"]:
        del search["pruner_options"]
    identity["search"] = search
    digest = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    s = settings
    return (
        f"{s.net.name}-conv{s.conv}-linear{s.linear}-relu{s.relu}-{s.dataset.name}"
        f"-{s.search.name}-{s.hparams.name}-{digest}"
    )
