"""Typed settings of `python -m green_ai.infer` (thesis chapter 4) and of its groups.

Field names are the YAML keys of conf/infer.yaml and conf/model/*.yaml (conf/batching/*.yaml
name a policy class and its arguments);
`__post_init__` checks what a type cannot say. Checks that need the model zoo or the request
stream (an image size the model cannot take) are made by `green_ai.inference.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.energy import EnergyConfig
from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError

MODES = ("run", "profile", "simulate", "recommend")
WARMUP_MODES = ("steady", "fixed")
STATISTICS = ("p99", "max")


@dataclass
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


@dataclass
class ProfileSettings:
    """`profile.*`: what `mode=profile` measures; `path` None = the default file name."""

    path: str | None = None
    batch_sizes: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64, 128])
    min_time_s: float = 1.0
    min_repeats: int = 3
    pauses_s: list[float] = field(default_factory=lambda: [0.02, 0.2, 1.0, 3.0])
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


@dataclass
class RecommendSettings:
    """`recommend.*`: the response-time limit and the candidates `mode=recommend` weighs."""

    limit_s: float = 1.0
    statistic: str = "p99"
    batch_sizes: list[int] | None = None
    max_delays_s: list[float] = field(default_factory=lambda: [0.05, 0.25, 1.0])

    def __post_init__(self) -> None:
        require_number("recommend.limit_s", self.limit_s, low=0, strict=True, unit=" seconds")
        require_choice("recommend.statistic", self.statistic, STATISTICS)
        for size in self.batch_sizes or ():
            require_int("recommend.batch_sizes[]", size, minimum=1)
        for delay in self.max_delays_s:
            require_number("recommend.max_delays_s[]", delay, low=0, unit=" seconds")


@dataclass
class ModelConfig:
    """The `model` group: a torchvision classifier by builder name; `weights` null = random
    initialisation (offline, the same compute), or a torchvision weights name."""

    name: str = MISSING
    weights: str | None = None


@dataclass
class InferConfig:
    """`python -m green_ai.infer`: one configuration of the batching study per Hydra job."""

    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    energy: EnergyConfig = MISSING
    model: ModelConfig = MISSING
    # The `batching` group (thesis §4.3.1): `_target_` names the policy class (or a factory),
    # the other keys are its arguments; conf/batching/*.yaml are the policies.
    batching: dict[str, Any] = MISSING
    mode: str = "run"
    frequency: float = 16.0
    arrivals: str = "constant"
    requests: int = 8192
    batch_size: int = 32
    image_size: int = 224
    device: str = "auto"
    cpu_threads: int | None = None
    seed: int = 0
    warmup: WarmupSettings = field(default_factory=WarmupSettings)
    profile: ProfileSettings = field(default_factory=ProfileSettings)
    recommend: RecommendSettings = field(default_factory=RecommendSettings)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"mode={self.mode!r} is unknown; choose one of {', '.join(MODES)}")
        require_int("seed", self.seed, minimum=0)
        require_int("image_size", self.image_size, minimum=1)
        if self.cpu_threads is not None:
            require_int("cpu_threads", self.cpu_threads, minimum=1)
        if not isinstance(self.batching.get("_target_"), str):
            raise UserError(
                "batching names no _target_ (the policy class); choose a file of "
                "conf/batching, e.g. batching=fixed"
            )
