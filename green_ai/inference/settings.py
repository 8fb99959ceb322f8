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

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.devices import resolve_device
from green_ai.errors import UserError
from green_ai.inference.batching import BatchingPolicy, make_policy
from green_ai.inference.classifiers import check_image_size
from green_ai.inference.stream import arrival_offsets

__all__ = [
    "MODES",
    "WARMUP_MODES",
    "ProfileSettings",
    "RecommendSettings",
    "Settings",
    "WarmupSettings",
    "settings_from",
]

MODES = ("run", "profile", "simulate", "recommend")
WARMUP_MODES = ("steady", "fixed")
STATISTICS = ("p99", "max")


@dataclass(frozen=True)
class WarmupSettings:
    """`warmup.*`: `fixed` runs `batches` batches (thesis §4.6.1: 256 of 32); `steady` runs
    until the median service time of the last `window` batches is within `tolerance` of the
    window before, at least `min_batches` and at most `max_batches` batches or `max_s`
    seconds."""

    mode: str = "steady"
    batch_size: int = 32
    batches: int = 256
    min_batches: int = 16
    max_batches: int = 256
    max_s: float = 60.0
    window: int = 8
    tolerance: float = 0.05

    def __post_init__(self) -> None:
        require_choice("warmup.mode", self.mode, WARMUP_MODES)
        require_int("warmup.batch_size", self.batch_size, minimum=1)
        require_int("warmup.batches", self.batches, minimum=0)
        require_int("warmup.min_batches", self.min_batches, minimum=0)
        require_int("warmup.max_batches", self.max_batches, minimum=self.min_batches)
        require_number("warmup.max_s", self.max_s, low=0, strict=True, unit=" seconds")
        require_int("warmup.window", self.window, minimum=2)
        require_number("warmup.tolerance", self.tolerance, low=0, strict=True)


@dataclass(frozen=True)
class ProfileSettings:
    """`profile.*`: what `mode=profile` measures; `path` None = the default file name."""

    path: str | None = None
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    min_time_s: float = 1.0
    min_repeats: int = 3
    pauses_s: tuple[float, ...] = (0.02, 0.2, 1.0, 3.0)
    idle_s: float = 2.0
    wakeups: int = 200

    def __post_init__(self) -> None:
        if not self.batch_sizes:
            raise UserError("profile.batch_sizes=[] must list at least one batch size")
        for size in self.batch_sizes:
            require_int("profile.batch_sizes[]", size, minimum=1)
        require_number("profile.min_time_s", self.min_time_s, low=0, unit=" seconds")
        require_int("profile.min_repeats", self.min_repeats, minimum=2)
        for pause in self.pauses_s:
            require_number("profile.pauses_s[]", pause, low=0, strict=True, unit=" seconds")
        require_number("profile.idle_s", self.idle_s, low=0, unit=" seconds")
        require_int("profile.wakeups", self.wakeups, minimum=0)


@dataclass(frozen=True)
class RecommendSettings:
    """`recommend.*`: the response-time limit and the candidates `mode=recommend` weighs."""

    limit_s: float = 1.0
    statistic: str = "p99"
    batch_sizes: tuple[int, ...] | None = None
    max_delays_s: tuple[float, ...] = (0.05, 0.25, 1.0)

    def __post_init__(self) -> None:
        require_number("recommend.limit_s", self.limit_s, low=0, strict=True, unit=" seconds")
        require_choice("recommend.statistic", self.statistic, STATISTICS)
        for size in self.batch_sizes or ():
            require_int("recommend.batch_sizes[]", size, minimum=1)
        for delay in self.max_delays_s:
            require_number("recommend.max_delays_s[]", delay, low=0, unit=" seconds")


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
        }


def settings_from(cfg: Any) -> Settings:
    """Check every input of the composed `conf/infer.yaml`; the first problem is a
    `UserError` naming the key."""
    mode = cfg.mode
    if mode not in MODES:
        raise UserError(f"mode={mode!r} is unknown; choose one of {', '.join(MODES)}")
    require_int("seed", cfg.seed, minimum=0)
    # Checks frequency, requests and arrivals the way the run will use them.
    arrival_offsets(
        frequency=cfg.frequency, requests=cfg.requests, arrivals=cfg.arrivals, seed=cfg.seed
    )
    if cfg.cpu_threads is not None:
        require_int("cpu_threads", cfg.cpu_threads, minimum=1)
    weights = cfg.model.weights
    check_image_size(cfg.model.name, cfg.image_size, weights=weights)
    w, p, r = cfg.warmup, cfg.profile, cfg.recommend
    return Settings(
        mode=mode,
        model=cfg.model.name,
        weights=None if weights is None else str(weights),
        image_size=cfg.image_size,
        device=resolve_device(cfg.device),
        frequency=float(cfg.frequency),
        arrivals=cfg.arrivals,
        requests=cfg.requests,
        seed=cfg.seed,
        policy=policy_from(cfg.batching),
        warmup=WarmupSettings(
            mode=w.mode,
            batch_size=w.batch_size,
            batches=w.batches,
            min_batches=w.min_batches,
            max_batches=w.max_batches,
            max_s=w.max_s,
            window=w.window,
            tolerance=w.tolerance,
        ),
        profile=ProfileSettings(
            path=None if p.path is None else str(p.path),
            batch_sizes=tuple(p.batch_sizes),
            min_time_s=p.min_time_s,
            min_repeats=p.min_repeats,
            pauses_s=tuple(p.pauses_s),
            idle_s=p.idle_s,
            wakeups=p.wakeups,
        ),
        recommend=RecommendSettings(
            limit_s=r.limit_s,
            statistic=r.statistic,
            batch_sizes=None if r.batch_sizes is None else tuple(r.batch_sizes),
            max_delays_s=tuple(r.max_delays_s),
        ),
        cpu_threads=cfg.cpu_threads,
        grid_intensity_g_per_kwh=cfg.energy.grid_intensity_g_per_kwh,
        energy=cfg.energy,
        tracking=cfg.tracking,
    )


def policy_from(batching: Any) -> BatchingPolicy:
    """The policy a `batching` group describes; each policy reads only its own keys."""
    policy = batching.policy
    if policy == "greedy":
        return make_policy(policy, max_batch=batching.max_batch)
    if policy == "timeout":
        return make_policy(
            policy, batch_size=batching.batch_size, max_delay_s=batching.max_delay_s
        )
    if policy == "fixed":
        return make_policy(policy, batch_size=batching.batch_size)
    return make_policy(policy)  # names the choices
