"""Typed settings of `python -m green_ai.train` and of its groups (thesis §3.3–3.4).

Field names are the YAML keys; defaults are the values a user gets without an override (the
YAML files under conf/ keep only what differs). `__post_init__` checks what a type cannot say,
so a wrong value fails once, before anything is loaded or measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.energy import EnergyConfig
from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError

PROGRESS_MODES = ("auto", "bar", "log", "none")
OBJECTIVES = {"accuracy": "maximize", "energy": "minimize"}
# Samplers that model one objective only (thesis Algorithm 1 maximises accuracy alone).
SINGLE_OBJECTIVE_SEARCHES = ("gp_pi",)
# `search.pruner`: Optuna's pruners by name (green_ai.search.pruning builds them).
PRUNERS = {
    "none": "NopPruner",
    "median": "MedianPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
}


@dataclass
class DatasetConfig:
    """The `dataset` group: which images, from where, how many."""

    name: str = MISSING
    # Relative paths are taken from the directory the command ran from.
    root: str = "data"
    download: bool = True
    # torchvision checks the md5 of CIFAR, SVHN, STL10 and SEMEION files; false accepts
    # re-packed copies.
    verify_checksums: bool = True
    # EMNIST's variant (byclass, bymerge, balanced, letters, digits, mnist); null elsewhere.
    variant: str | None = None
    # null = native size; N resizes every image to N×N (needed where the sizes vary).
    image_size: int | None = None
    train_samples: int | None = None  # null = all; a number keeps the first N (quick runs)
    test_samples: int | None = None
    # synthetic only: the shape it imitates, its classes and its own seed (null = `seed`).
    shape: str = "fashion_mnist"
    num_classes: int = 10
    seed: int | None = None

    def __post_init__(self) -> None:
        for key in ("train_samples", "test_samples", "image_size"):
            value = getattr(self, key)
            if value is not None:
                require_int(f"dataset.{key}", value, minimum=1)
        require_int("dataset.num_classes", self.num_classes, minimum=2)


@dataclass
class NetConfig:
    """The `net` group: the architecture; layer counts are the top-level `conv`, `linear`,
    `relu`. `options` go to the network's constructor (e.g. SimpleCNN's `channels`)."""

    name: str = MISSING
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParamRange:
    """One searched hyperparameter: both bounds reachable; `log` searches on a log scale."""

    low: float = MISSING
    high: float = MISSING
    log: bool = False


@dataclass
class HparamsConfig:
    """The `hparams` group: the search space, Adam's hyperparameters by name (thesis §3.4.1)."""

    name: str = MISSING
    params: dict[str, ParamRange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from green_ai.training.loop import ADAM_DEFAULTS

        if not self.params:
            raise UserError("hparams.params is empty; use hparams=adam3 or adam5")
        for key, spec in self.params.items():
            where = f"hparams.params.{key}"
            require_choice(where, key, ADAM_DEFAULTS, "the space names Adam's hyperparameters")
            if not spec.low < spec.high:
                raise UserError(f"{where}: low={spec.low} must be below high={spec.high}")
            if spec.log and spec.low <= 0:
                raise UserError(f"{where}: a log-scaled range needs low > 0, got {spec.low}")


@dataclass
class SearchConfig:
    """The `search` group: the strategy (an Optuna sampler built from `sampler`), an optional
    energy budget and the objectives."""

    name: str = MISSING
    # `_target_` names a factory in green_ai.samplers.factories; the rest are its options.
    sampler: dict[str, Any] = field(default_factory=dict)
    # Energy-aware studies: stop once the study's measured joules reach this budget.
    energy_budget_j: float | None = None
    # [accuracy] or [accuracy, energy] (a multi-objective study with a Pareto front).
    objectives: list[str] = field(default_factory=lambda: ["accuracy"])
    # Stop a round's training early when its first repetition's test accuracy falls behind
    # earlier rounds' at the same epoch: none (every round trains all its epochs, as in the
    # thesis) | median | successive_halving | hyperband (Optuna's pruners).
    pruner: str = "none"
    # Keyword arguments of that Optuna pruner, e.g. {n_startup_trials: 2} for median.
    pruner_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        objectives = list(self.objectives)
        if (
            not objectives
            or objectives[0] != "accuracy"
            or len(set(objectives)) != len(objectives)
        ):
            raise UserError(
                f"search.objectives={objectives} is not supported; "
                "use [accuracy] or [accuracy,energy]"
            )
        for objective in objectives:
            require_choice("search.objectives", objective, OBJECTIVES)
        if self.name in SINGLE_OBJECTIVE_SEARCHES and len(objectives) > 1:
            raise UserError(
                f"search={self.name} models one objective; search.objectives={objectives} "
                "needs search=random, grid, tpe or gp"
            )
        if self.energy_budget_j is not None:
            require_number("search.energy_budget_j", self.energy_budget_j, low=0, strict=True)
        if "_target_" not in self.sampler:
            raise UserError(f"search={self.name} has no sampler._target_ to build its sampler")
        require_choice("search.pruner", self.pruner, PRUNERS)
        if self.pruner != "none" and len(objectives) > 1:
            raise UserError(
                f"search.pruner={self.pruner} needs one objective (Optuna prunes single-objective "
                f"studies only); use search.objectives=[accuracy] or search.pruner=none"
            )
        self.pruner_options = dict(self.pruner_options)
        _check_pruner_options(self.pruner, self.pruner_options)


def _check_pruner_options(pruner: str, options: dict[str, Any]) -> None:
    """The options name arguments of the chosen Optuna pruner (checked without building it)."""
    if not options:
        return
    if pruner == "none":
        raise UserError(
            f"search.pruner_options={options} given but search.pruner=none; choose a pruner "
            "(median, successive_halving, hyperband) or drop the options"
        )
    import inspect

    import optuna

    cls = getattr(optuna.pruners, PRUNERS[pruner])
    known = [p for p in inspect.signature(cls).parameters if p != "self"]
    for key in options:
        if key not in known:
            raise UserError(
                f"search.pruner_options.{key} is not an option of optuna.pruners."
                f"{cls.__name__}; its options: {', '.join(known)}"
            )
    try:
        cls(**options)
    except (TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0]
        raise UserError(f"search.pruner_options={options}: {reason}") from None


@dataclass
class StudyConfig:
    """Where the Optuna study lives and who works on it."""

    # Optuna storage URL; null = SQLite file studies.db in the directory the command ran from.
    # A shared database (PostgreSQL, MySQL) lets several workers run one study.
    storage: str | None = None
    # null = derived from the config, so the same command resumes the same study.
    name: str | None = None
    # Workers sharing one study each need their own number, or they draw the same values.
    worker: int = 0
    # A worker records a heartbeat this often; a round whose worker has been silent for twice
    # as long (killed, its node lost) is recorded as failed and redone by another worker.
    heartbeat_s: int = 60

    def __post_init__(self) -> None:
        require_int("study.worker", self.worker, minimum=0)
        require_int("study.heartbeat_s", self.heartbeat_s, minimum=1)


@dataclass
class TrainConfig:
    """`python -m green_ai.train`: one Optuna study of `rounds` trials per Hydra job; each
    trial trains the net `repetitions` times with the same hyperparameters (thesis §3.3.1)."""

    dataset: DatasetConfig = MISSING
    net: NetConfig = MISSING
    search: SearchConfig = MISSING
    hparams: HparamsConfig = MISSING
    energy: EnergyConfig = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    # Layer counts (thesis §3.3.1, Table 3.2). conv and relu apply to simplecnn only.
    conv: int = 2  # conv blocks Conv2d→BatchNorm2d→[ReLU]→MaxPool2d
    linear: int = 3  # linear layers
    relu: int = 1  # 1: ReLU in each conv block; 0: none

    epochs: int = 25  # per repetition (thesis §3.3.1)
    rounds: int = 8  # Optuna trials: hyperparameter settings tried
    repetitions: int = 2  # trainings per round with the same hyperparameters
    batch_size: int = 128
    # Test accuracy after every epoch (a step metric) or only after the last (a little faster).
    eval_every_epoch: bool = True
    seed: int = 0  # seeds the sampler, the data order and the weights
    # Before the idle baseline and round 0, an untimed training of this many batches (and at
    # least warmup_s seconds) warms the device up, so the first measured repetition costs
    # what the others do. 0 skips it.
    warmup_steps: int = 16
    warmup_s: float = 0.0

    device: str = "auto"  # auto (CUDA when present) | cpu | cuda | cuda:N
    # Progress: auto (bars on a terminal, log lines otherwise) | bar | log | none
    progress: str = "auto"
    # true: MLflow's, alembic's, Optuna's and the launchers' INFO lines too (set-up steps such
    # as "Creating initial MLflow database tables..."); false: their warnings only.
    verbose: bool = False
    study: StudyConfig = field(default_factory=StudyConfig)

    def __post_init__(self) -> None:
        for key, minimum in (
            ("conv", 0),
            ("linear", 1),
            ("epochs", 1),
            ("rounds", 1),
            ("repetitions", 1),
            ("batch_size", 1),
            ("warmup_steps", 0),
        ):
            require_int(key, getattr(self, key), minimum=minimum)
        if self.relu not in (0, 1):
            raise UserError(f"relu={self.relu!r} must be 0 (no ReLU in the conv blocks) or 1")
        require_choice("progress", self.progress, PROGRESS_MODES)
        require_number("warmup_s", self.warmup_s, low=0, unit=" s")
        if self.search.pruner != "none" and not self.eval_every_epoch:
            raise UserError(
                f"search.pruner={self.search.pruner} decides on each epoch's test accuracy; "
                "use eval_every_epoch=true or search.pruner=none"
            )
        if "energy" in self.search.objectives and self.energy.meters == ["none"]:
            raise UserError(
                "search.objectives includes energy but energy=none measures no joules; "
                "use energy=auto, nvml, rapl or estimate"
            )
