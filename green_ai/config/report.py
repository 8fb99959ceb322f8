"""Typed settings of the report app (`conf/report.yaml`): one field per YAML key.

Defaults equal the YAML's; `__post_init__` checks what a type cannot say (ranges, choices),
so a wrong value is one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.design import DesignConfig
from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError

ENERGY_METRICS = ("energy_net_j", "energy_j")
FACTORIAL_UNITS = ("repetition", "round")
CLUSTER_METHODS = ("kmeans", "median")
# The corrections statsmodels' multipletests offers, which scikit-posthocs hands them to.
P_ADJUST_METHODS = (
    "holm",
    "bonferroni",
    "sidak",
    "holm-sidak",
    "simes-hochberg",
    "hommel",
    "fdr_bh",
    "fdr_by",
    "fdr_tsbh",
    "fdr_tsbky",
)


@dataclass
class FactorialSettings:
    """`factorial.*`: what one observation of the architecture factorial is."""

    unit: str = "repetition"

    def __post_init__(self) -> None:
        require_choice("factorial.unit", self.unit, FACTORIAL_UNITS)


@dataclass
class PosthocSettings:
    """`posthoc.*`: Dunn's pairwise comparisons."""

    p_adjust: str = "holm"

    def __post_init__(self) -> None:
        require_choice("posthoc.p_adjust", self.p_adjust, P_ADJUST_METHODS)


@dataclass
class ClusterSettings:
    """`clusters.*`: the E+/E− split of Table 3.5."""

    method: str = "kmeans"

    def __post_init__(self) -> None:
        require_choice("clusters.method", self.method, CLUSTER_METHODS)


@dataclass
class GuardSettings:
    """`guards.*`: the smallest samples a statistic is shown for."""

    normality_min_n: int = 8
    effect_min_n: int = 5

    def __post_init__(self) -> None:
        # Shapiro–Wilk is undefined below 3 values; a Kruskal–Wallis level needs 2 to rank.
        require_int("guards.normality_min_n", self.normality_min_n, minimum=3)
        require_int("guards.effect_min_n", self.effect_min_n, minimum=2)


@dataclass
class PeakPowerSettings:
    """`peak_power.*`: which mean batch sizes count as small and large in Table 4.1."""

    small_max_batch: float = 2.0
    large_min_batch: float = 128.0

    def __post_init__(self) -> None:
        require_number("peak_power.small_max_batch", self.small_max_batch, low=1)
        require_number("peak_power.large_min_batch", self.large_min_batch, low=1)
        if self.large_min_batch <= self.small_max_batch:
            raise UserError(
                f"peak_power.large_min_batch={self.large_min_batch:g} must be greater than "
                f"peak_power.small_max_batch={self.small_max_batch:g}"
            )


@dataclass
class ReportConfig:
    """`python -m green_ai.report`: where the runs come from, and how they are analysed."""

    out_dir: str = "report"
    input: str | None = None
    target_pct: float = 1.0
    energy_metric: str = "energy_net_j"
    alpha: float = 0.05
    factors: list[str] = field(default_factory=list)
    factorial: FactorialSettings = field(default_factory=FactorialSettings)
    posthoc: PosthocSettings = field(default_factory=PosthocSettings)
    clusters: ClusterSettings = field(default_factory=ClusterSettings)
    guards: GuardSettings = field(default_factory=GuardSettings)
    peak_power: PeakPowerSettings = field(default_factory=PeakPowerSettings)
    baseline_model: str = "alexnet"
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # design.confidence: the level of the report's intervals (cell means, η²).
    design: DesignConfig = field(default_factory=DesignConfig)

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise UserError("out_dir='' must name a folder for report.md")
        if self.input is not None and not self.input:
            raise UserError("input='' must name a CSV file, or be null to read MLflow runs")
        require_number("target_pct", self.target_pct, low=0)
        if self.target_pct >= 100:
            raise UserError(f"target_pct={self.target_pct!r} must be a percentage below 100")
        require_choice("energy_metric", self.energy_metric, ENERGY_METRICS)
        require_number("alpha", self.alpha, low=0, strict=True)
        if self.alpha >= 1:
            raise UserError(f"alpha={self.alpha!r} must be a significance level between 0 and 1")
        self.factors = [str(f) for f in self.factors]
        listed = f"factors=[{','.join(self.factors)}]"
        if any(not f.strip() for f in self.factors):
            raise UserError(f"{listed}: a factor name is empty (name params, e.g. net.width)")
        twice = sorted({f for f in self.factors if self.factors.count(f) > 1})
        if twice:
            raise UserError(f"{listed}: {', '.join(twice)} named twice; name each factor once")
