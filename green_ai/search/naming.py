"""Study names: readable, and the same for the same computation so a rerun resumes it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from omegaconf import DictConfig

from green_ai.config.store import train_settings
from green_ai.config.train import LoaderConfig, OptimizerConfig, TaskConfig, TrainConfig

# Settings that do not change what a study computes: a rerun that differs only in these
# continues the same study (rounds=3 after rounds=2 adds one round). `design` orders and
# measures the rounds; what they compute is the same.
NOT_IDENTITY = (
    "rounds",
    "tracking",
    "study",
    "energy",
    "progress",
    "verbose",
    "device",
    "design",
)


def study_name(cfg: TrainConfig | DictConfig) -> str:
    """`study.name` if set, else the cell's factors plus a hash of everything else it computes."""
    settings = train_settings(cfg)
    if settings.study.name:
        return settings.study.name
    digest = hashlib.sha1(json.dumps(identity(settings), sort_keys=True).encode()).hexdigest()[:10]
    s = settings
    if s.net.is_thesis:
        net = f"{s.net.name}-conv{s.conv}-linear{s.linear}-relu{s.relu}"
    else:
        net = s.net.name
    extra = "".join(
        f"-{name}"
        for name, default in ((s.optimizer.name, "adam"), (s.task.name, "classify"))
        if name != default
    )
    return f"{net}-{s.dataset.name}-{s.search.name}-{s.hparams.name}{extra}-{digest}"


def identity(settings: TrainConfig) -> dict[str, Any]:
    """What the study computes, as JSON-ready values. Settings added after a study kind
    existed are left out at their defaults, so its name (and a rerun's resumption) stays."""
    ident = {k: v for k, v in dataclasses.asdict(settings).items() if k not in NOT_IDENTITY}
    if settings.adaptive:
        # repetitions=auto: how many repetitions a round trains depends on these, so they
        # change what it computes (a fixed `repetitions` keeps its name).
        d = settings.design
        ident["design"] = {
            "target_ci": d.target_ci,
            "min_repetitions": d.min_repetitions,
            "max_repetitions": d.max_repetitions,
            "confidence": d.confidence,
        }
    search = {k: v for k, v in ident["search"].items() if k != "energy_budget_j"}
    # Without a pruner a study computes what it did before pruners existed: same name.
    if search["pruner"] == "none":
        del search["pruner"]
    _drop_defaults(search, {"pruner_options": {}, "directions": []})
    ident["search"] = search
    _drop_defaults(ident["net"], {"target": None, "kwargs": {}})
    _drop_defaults(ident["dataset"], {"target": None, "kwargs": {}})
    if ident["dataset"].get("loader") == dataclasses.asdict(LoaderConfig()):
        del ident["dataset"]["loader"]
    for spec in ident["hparams"]["params"].values():
        _drop_defaults(spec, {"type": "float", "choices": None, "step": None})
        _drop_defaults(spec, {"target": "optimizer"})
    if not settings.net.is_thesis:  # no layer counts: the net's own keys say its size
        for key in ("conv", "linear", "relu"):
            del ident[key]
    default_optimizer = dataclasses.asdict(OptimizerConfig())
    if ident["optimizer"] == default_optimizer:
        del ident["optimizer"]
    if ident["task"] == dataclasses.asdict(TaskConfig()):
        del ident["task"]
    return ident


def _drop_defaults(node: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, default in defaults.items():
        if key in node and node[key] == default:
            del node[key]
