"""Typed settings of `python -m green_ai.train` and of its groups (thesis §3.3–3.4).

Field names are the YAML keys; defaults are the values a user gets without an override (the
YAML files under conf/ keep only what differs). `__post_init__` checks what a type cannot say,
so a wrong value fails once, before anything is loaded or measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.components import Component, as_plain, component, is_component
from green_ai.config.design import DesignConfig
from green_ai.config.energy import EnergyConfig
from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError

PROGRESS_MODES = ("auto", "bar", "log", "none")
# The direction of an objective that needs none given (`search.directions`); any other metric
# that the task returns needs its direction. `energy` is the round's measured joules.
OBJECTIVES = {"accuracy": "maximize", "energy": "minimize"}
DIRECTIONS = ("maximize", "minimize")
# The thesis's nets (§3.3.1, conf/net/*.yaml without _target_) take the layer counts.
LAYER_DEFAULTS = {"conv": 2, "linear": 3, "relu": 1}
# Where a searched value goes (`hparams.params.<key>.target`).
PARAM_TARGETS = ("optimizer", "net", "task", "batch_size")
PARAM_TYPES = ("float", "int", "categorical")
# Samplers that model one objective only (thesis Algorithm 1 maximises accuracy alone).
SINGLE_OBJECTIVE_SEARCHES = ("gp_pi",)
# `search.pruner`: Optuna's pruners by name, and green_ai's for accuracy-and-energy studies
# (green_ai.search.pruning builds them).
PRUNERS = {
    "none": "NopPruner",
    "median": "MedianPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "hyperband": "HyperbandPruner",
    "pareto": "ParetoPruner",
}
# Optuna's pruners rank one objective; `pareto` prunes [<metric>, energy] studies.
SINGLE_OBJECTIVE_PRUNERS = ("median", "successive_halving", "hyperband")


@dataclass
class LoaderConfig:
    """`dataset.loader`: how a user's `torch.utils.data.Dataset` reaches the device."""

    # DataLoader workers and pinned memory, where the data streams (it does not fit the device
    # or its items differ in shape).
    num_workers: int = 0
    pin_memory: bool = False
    # null: held on the device when it fits (the fast path), else streamed; true: held (an
    # error if it cannot be); false: always streamed.
    in_memory: bool | None = None

    def __post_init__(self) -> None:
        require_int("dataset.loader.num_workers", self.num_workers, minimum=0)


@dataclass
class DatasetConfig:
    """The `dataset` group: which images, from where, how many; or a user's own callable
    (`_target_`: `target` and its keyword arguments `kwargs`)."""

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
    # A user's dataset: `_target_` returns (train, test, num_classes) from these arguments.
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    loader: LoaderConfig = field(default_factory=LoaderConfig)

    def __post_init__(self) -> None:
        for key in ("train_samples", "test_samples", "image_size"):
            value = getattr(self, key)
            if value is not None:
                require_int(f"dataset.{key}", value, minimum=1)
        require_int("dataset.num_classes", self.num_classes, minimum=2)


@dataclass
class NetConfig:
    """The `net` group: one of the thesis's nets by `name`, whose layer counts are the
    top-level `conv`, `linear`, `relu` and whose `options` go to its constructor (e.g.
    SimpleCNN's `channels`); or a user's builder (`_target_`: `target` and `kwargs`)."""

    name: str = MISSING
    options: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_thesis(self) -> bool:
        return self.target is None


@dataclass
class OptimizerConfig:
    """The `optimizer` group: a `torch.optim` class (or any callable taking the parameters
    first), its fixed keyword arguments; the searched ones come from `hparams`."""

    name: str = "adam"
    target: str = "torch.optim.Adam"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskConfig:
    """The `task` group: the training loop, `fit(ctx)` called once per repetition
    (green_ai.training.task); `classify` is the thesis's loop."""

    name: str = "classify"
    target: str = "green_ai.training.classify.fit"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParamRange:
    """One searched hyperparameter: a range (both bounds reachable; `log` searches on a log
    scale; `type: int` for whole numbers, `step` to snap) or `choices` (a category), and
    where its value goes (`target`: optimizer, net, task or batch_size)."""

    low: Any = None
    high: Any = None
    log: bool = False
    type: str | None = None  # float | int | categorical (null: categorical with choices)
    choices: list[Any] | None = None
    step: Any = None
    target: str = "optimizer"

    def check(self, where: str) -> None:
        """Fill `type` and check the entry (the settings run it for every parameter)."""
        require_choice(f"{where}.target", self.target, PARAM_TARGETS)
        if self.choices is not None:
            self._check_choices(where)
        else:
            self._check_range(where)
        if self.target == "batch_size" and not (
            self.type == "int"
            or (self.type == "categorical" and all(_is_int(c) for c in self.choices or []))
        ):
            raise UserError(f"{where}: a searched batch_size needs type: int or integer choices")

    def _check_choices(self, where: str) -> None:
        if self.type not in (None, "categorical"):
            raise UserError(f"{where}: choices make a categorical parameter, not type {self.type}")
        if not self.choices:
            raise UserError(f"{where}.choices is empty; list at least one value")
        if self.low is not None or self.high is not None:
            raise UserError(f"{where}: give choices or low/high, not both")
        self.type = "categorical"

    def _check_range(self, where: str) -> None:
        self.type = self.type or "float"
        if self.type == "categorical":
            raise UserError(f"{where}: type categorical needs choices: [...]")
        require_choice(f"{where}.type", self.type, PARAM_TYPES)
        if self.low is None or self.high is None:
            raise UserError(
                f"{where} has no bounds: give low and high (e.g. {{low: 1.0e-4, high: 0.1}}) "
                "or choices: [...]"
            )
        cast = int if self.type == "int" else float
        for key in ("low", "high", "step"):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UserError(f"{where}.{key}={value!r} must be a number")
            if cast is int and not _is_int(value):
                raise UserError(f"{where}.{key}={value!r} must be a whole number (type: int)")
            setattr(self, key, cast(value))
        if not self.low < self.high:
            raise UserError(f"{where}: low={self.low} must be below high={self.high}")
        if self.log and self.low <= 0:
            raise UserError(f"{where}: a log-scaled range needs low > 0, got {self.low}")
        if self.log and self.step not in (None, 1):
            raise UserError(f"{where}: a log-scaled range takes no step; drop one of them")


def _is_int(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == int(value)


@dataclass
class HparamsConfig:
    """The `hparams` group: the search space (thesis §3.4.1: Adam's hyperparameters by name;
    any optimizer's, a net's or a task's too, by `target`)."""

    name: str = MISSING
    params: dict[str, ParamRange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.params:
            raise UserError("hparams.params is empty; use hparams=adam3 or adam5, or list some")
        for key, spec in self.params.items():
            spec.check(f"hparams.params.{key}")

    def targeting(self, target: str) -> list[str]:
        """The searched keys whose values go to `target`."""
        return [k for k, spec in self.params.items() if spec.target == target]


@dataclass
class SearchConfig:
    """The `search` group: the strategy (an Optuna sampler built from `sampler`), an optional
    energy budget and the objectives."""

    name: str = MISSING
    # `_target_` names a factory in green_ai.samplers.factories; the rest are its options.
    sampler: dict[str, Any] = field(default_factory=dict)
    # Energy-aware studies: stop once the study's measured joules reach this budget.
    energy_budget_j: float | None = None
    # The metrics the study optimises: `accuracy` (the default), `energy` (the round's joules,
    # for a Pareto front: [accuracy, energy]) or any number the task returns (e.g. val_loss).
    objectives: list[str] = field(default_factory=lambda: ["accuracy"])
    # One per objective, maximize | minimize; [] = accuracy maximised, energy minimised
    # (another metric needs its direction, e.g. search.directions=[minimize]).
    directions: list[str] = field(default_factory=list)
    # Stop a round's training early when its first repetition's test accuracy falls behind
    # earlier rounds' at the same epoch: none (every round trains all its epochs, as in the
    # thesis) | median | successive_halving | hyperband (Optuna's pruners) | pareto (for
    # [accuracy,energy] studies: a round dominated by a finished one at the same epoch).
    pruner: str = "none"
    # Keyword arguments of that Optuna pruner, e.g. {n_startup_trials: 2} for median (checked
    # against the pruner's signature by green_ai.search.pruning before anything runs).
    pruner_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        objectives = list(self.objectives)
        self.objectives = objectives
        if not objectives or len(set(objectives)) != len(objectives):
            raise UserError(
                f"search.objectives={objectives} must name distinct metrics, e.g. [accuracy], "
                "[accuracy,energy] or [val_loss]"
            )
        if objectives[0] == "energy":
            raise UserError(
                "search.objectives must start with a metric of the task (accuracy, or one it "
                "returns); energy can only come after it, e.g. [accuracy,energy]"
            )
        self._check_directions(objectives)
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
        self._check_pruner(objectives)
        self.pruner_options = dict(self.pruner_options)
        if self.pruner_options and self.pruner == "none":
            raise UserError(
                f"search.pruner_options={self.pruner_options} given but search.pruner=none; "
                "choose a pruner (median, successive_halving, hyperband, pareto) or drop the "
                "options"
            )

    def _check_pruner(self, objectives: list[str]) -> None:
        """Optuna's pruners for one objective, `pareto` for [<metric>, energy]."""
        given = f"search.objectives=[{','.join(objectives)}]"
        if self.pruner in SINGLE_OBJECTIVE_PRUNERS and len(objectives) > 1:
            raise UserError(
                f"search.pruner={self.pruner} needs one objective (Optuna prunes single-objective "
                f"studies only); for {given} use search.pruner=pareto"
            )
        if self.pruner != "pareto":
            return
        if len(objectives) == 1:
            raise UserError(
                f"search.pruner=pareto prunes accuracy-and-energy studies; for {given} use "
                "search.pruner=median, successive_halving "
                "or hyperband"
            )
        if len(objectives) != 2 or objectives[1] != "energy":
            raise UserError(
                f"search.pruner=pareto needs search.objectives=[<metric>,energy], e.g. "
                f"[accuracy,energy]; got {given}"
            )
        if self.directions and self.directions[1] != "minimize":
            raise UserError(
                "search.pruner=pareto prunes rounds that spend more joules: energy needs "
                f"search.directions[1]=minimize, got {self.directions[1]}"
            )

    def _check_directions(self, objectives: list[str]) -> None:
        directions = list(self.directions)
        if directions and len(directions) != len(objectives):
            raise UserError(
                f"search.directions={directions} needs one direction per objective "
                f"(search.objectives={objectives})"
            )
        for i, objective in enumerate(objectives):
            if directions:
                require_choice(f"search.directions[{i}]", directions[i], DIRECTIONS)
            elif objective not in OBJECTIVES:
                example = ",".join(OBJECTIVES.get(o, "minimize") for o in objectives)
                raise UserError(
                    f"search.objectives={objectives}: {objective} needs its direction, e.g. "
                    f"search.directions=[{example}]"
                )
        self.directions = directions

    @property
    def objective(self) -> str:
        """The task's metric that the study optimises first (best-so-far follows it)."""
        return self.objectives[0]

    def objective_directions(self) -> list[str]:
        """maximize | minimize for each objective."""
        return self.directions or [OBJECTIVES[o] for o in self.objectives]


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


# The group nodes that may hold a user's `_target_` (any keys): untyped for OmegaConf, checked
# and turned into their dataclass by TrainConfig.__post_init__.
if TYPE_CHECKING:
    DatasetNode = DatasetConfig
    NetNode = NetConfig
    OptimizerNode = OptimizerConfig
    TaskNode = TaskConfig
else:
    DatasetNode = NetNode = OptimizerNode = TaskNode = Any


AUTO = "auto"  # repetitions=auto


@dataclass
class TrainConfig:
    """`python -m green_ai.train`: one Optuna study of `rounds` trials per Hydra job; each
    trial trains the net `repetitions` times with the same hyperparameters (thesis §3.3.1)."""

    dataset: DatasetNode = MISSING
    net: NetNode = MISSING
    search: SearchConfig = MISSING
    hparams: HparamsConfig = MISSING
    optimizer: OptimizerNode = MISSING
    task: TaskNode = MISSING
    energy: EnergyConfig = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    # Layer counts of the thesis's nets (§3.3.1, Table 3.2); null = 2, 3, 1. conv and relu
    # apply to simplecnn only; a `_target_` net takes its own keys instead.
    conv: int | None = None  # conv blocks Conv2d→BatchNorm2d→[ReLU]→MaxPool2d
    linear: int | None = None  # linear layers
    relu: int | None = None  # 1: ReLU in each conv block; 0: none

    epochs: int = 25  # per repetition (thesis §3.3.1)
    rounds: int = 8  # Optuna trials: hyperparameter settings tried
    # Trainings per round with the same hyperparameters; `auto`: until the round's energy
    # interval is design.target_ci narrow, between design.min_ and max_repetitions.
    repetitions: int | str = 2
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
    # Run order, intervals, thermal settling, adaptive repetitions (green_ai/config/design.py).
    design: DesignConfig = field(default_factory=DesignConfig)

    def __post_init__(self) -> None:
        self.dataset = dataset_config(self.dataset)
        self.net = net_config(self.net)
        self.optimizer = optimizer_config(self.optimizer)
        self.task = task_config(self.task)
        self._layer_counts()
        for key, minimum in (
            ("epochs", 1),
            ("rounds", 1),
            ("batch_size", 1),
            ("warmup_steps", 0),
        ):
            require_int(key, getattr(self, key), minimum=minimum)
        self._check_repetitions()
        require_choice("progress", self.progress, PROGRESS_MODES)
        require_number("warmup_s", self.warmup_s, low=0, unit=" s")
        pruned = self.search.pruner != "none"
        if pruned and self.task.name == "classify" and not self.eval_every_epoch:
            raise UserError(
                f"search.pruner={self.search.pruner} decides on each epoch's test accuracy; "
                "use eval_every_epoch=true or search.pruner=none"
            )
        if "energy" in self.search.objectives and self.energy.meters == ["none"]:
            raise UserError(
                "search.objectives includes energy but energy=none measures no joules; "
                "use energy=auto, nvml, rapl or estimate"
            )

    @property
    def adaptive(self) -> bool:
        """`repetitions=auto`: each round trains until its energy interval is narrow enough."""
        return self.repetitions == AUTO

    @property
    def max_repetitions(self) -> int:
        """The most repetitions a round trains: `repetitions`, or design.max_repetitions."""
        return self.design.max_repetitions if self.adaptive else int(self.repetitions)

    def _check_repetitions(self) -> None:
        if isinstance(self.repetitions, str) and self.repetitions.strip().isdigit():
            self.repetitions = int(self.repetitions)
        if not self.adaptive:
            if not isinstance(self.repetitions, int) or isinstance(self.repetitions, bool):
                raise UserError(
                    f"repetitions={self.repetitions!r} must be a whole number of at least 1, or "
                    "auto (with design.target_ci)"
                )
            require_int("repetitions", self.repetitions, minimum=1)
            return
        if self.design.target_ci is None:
            raise UserError(
                "repetitions=auto needs design.target_ci: the interval's half-width to reach, as "
                "a fraction of the mean energy (design.target_ci=0.02: within 2 %)"
            )
        if self.energy.meters == ["none"]:
            raise UserError(
                "repetitions=auto stops on the energy interval but energy=none measures no "
                "joules; use energy=auto, nvml, rapl or estimate, or a fixed repetitions=N"
            )

    def _layer_counts(self) -> None:
        """The thesis's nets get their layer counts (2, 3, 1 unless set); a `_target_` net
        has none: setting one for it is a mistake (its own keys say how big it is)."""
        given = [k for k in LAYER_DEFAULTS if getattr(self, k) is not None]
        if not self.net.is_thesis:
            if given:
                key = given[0]
                raise UserError(
                    f"{key}={getattr(self, key)} sets a layer count of the thesis's nets "
                    f"(simplecnn and the dense ones); net={self.net.name} is a _target_ net: "
                    "set its own keys instead (net.<argument>=...)"
                )
            return
        for key, default in LAYER_DEFAULTS.items():
            if getattr(self, key) is None:
                setattr(self, key, default)
        conv, linear = self.conv, self.linear
        assert conv is not None and linear is not None
        require_int("conv", conv, minimum=0)
        require_int("linear", linear, minimum=1)
        if self.relu not in (0, 1):
            raise UserError(f"relu={self.relu!r} must be 0 (no ReLU in the conv blocks) or 1")


def _typed(raw: Any, schema: type[Any], where: str) -> Any:
    """`raw` (a mapping) checked against `schema` and turned into it, errors named `where.key`."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), as_plain(raw))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        reason = str(getattr(err, "msg", None) or err).splitlines()[0]
        raise UserError(f"{where}.{key}: {reason}" if key else f"{where}: {reason}") from None


def _mapping(raw: Any, group: str) -> Mapping[str, Any]:
    raw = as_plain(raw)
    if isinstance(raw, DatasetConfig | NetConfig | OptimizerConfig | TaskConfig):
        return {"__built__": raw}
    if not isinstance(raw, Mapping):
        raise UserError(f"{group}={raw!r} must be a config node (choose {group}=NAME)")
    return raw


def dataset_config(raw: Any) -> DatasetConfig:
    """The `dataset` node: torchvision's or synthetic by name, or a user's `_target_`."""
    node = _mapping(raw, "dataset")
    if "__built__" in node:
        return node["__built__"]  # type: ignore[no-any-return]
    if not is_component(node):
        return _typed(node, DatasetConfig, "dataset")  # type: ignore[no-any-return]
    c = component("dataset", node, reserved=("loader",))
    loader = _typed(node.get("loader") or {}, LoaderConfig, "dataset.loader")
    return DatasetConfig(name=c.name, target=c.target, kwargs=c.kwargs, loader=loader)


def net_config(raw: Any) -> NetConfig:
    """The `net` node: one of the thesis's nets by name, or a user's `_target_` builder."""
    node = _mapping(raw, "net")
    if "__built__" in node:
        return node["__built__"]  # type: ignore[no-any-return]
    if is_component(node):
        c = component("net", node)
        return NetConfig(name=c.name, target=c.target, kwargs=c.kwargs)
    # Its name is checked where the thesis's nets are built (green_ai.nets.build_net).
    net: NetConfig = _typed(node, NetConfig, "net")
    return net


def optimizer_config(raw: Any) -> OptimizerConfig:
    """The `optimizer` node: `_target_` (a torch.optim class) and its fixed arguments."""
    return _component_config(raw, "optimizer", OptimizerConfig)  # type: ignore[no-any-return]


def task_config(raw: Any) -> TaskConfig:
    """The `task` node: `_target_` names `fit(ctx)`; its other keys are `ctx.options`."""
    node = _mapping(raw, "task")
    if "__built__" in node:
        return node["__built__"]  # type: ignore[no-any-return]
    c = _require_component(node, "task")
    return TaskConfig(name=c.name, target=c.target, options=c.kwargs)


def _component_config(raw: Any, group: str, schema: type[Any]) -> Any:
    node = _mapping(raw, group)
    if "__built__" in node:
        return node["__built__"]
    c = _require_component(node, group)
    return schema(name=c.name, target=c.target, kwargs=c.kwargs)


def _require_component(node: Mapping[str, Any], group: str) -> Component:
    if not is_component(node):
        raise UserError(
            f"{group} has no _target_: a {group} file names its callable, e.g. "
            f"_target_: torch.optim.SGD (conf/{group}/*.yaml)"
        )
    return component(group, node)
