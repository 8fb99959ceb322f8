"""Typed settings of the planning app (`conf/plan.yaml`): one field per YAML key."""

from __future__ import annotations

from dataclasses import dataclass, field

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.report import ENERGY_METRICS
from green_ai.config.tracking import TrackingConfig
from green_ai.errors import UserError


@dataclass
class PlanConfig:
    """`python -m green_ai.plan`: the pilot, the question and where the plan goes."""

    input: str | None = None
    out: str = "plan.csv"
    power: float = 0.8
    alpha: float = 0.05
    effect: str = "observed"  # observed | a relative difference (0.05: 5 %)
    simulations: int = 400
    max_repetitions: int = 100
    seed: int = 0
    energy_metric: str = "energy_net_j"
    factors: list[str] = field(default_factory=list)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        if self.input is not None and not self.input:
            raise UserError("input='' must name a CSV file, or be null to read MLflow runs")
        if not self.out:
            raise UserError("out='' must name the CSV file the plan is written to")
        for key in ("power", "alpha"):
            value = getattr(self, key)
            require_number(key, value, low=0, strict=True)
            if value >= 1:
                raise UserError(f"{key}={value!r} must be a number between 0 and 1")
        self.effect = str(self.effect)
        if self.effect != "observed":
            relative = self.relative_effect
            if relative is None or relative <= 0:
                raise UserError(
                    f"effect={self.effect!r} must be `observed` or a relative energy difference "
                    "above 0 (0.05: 5 %)"
                )
        require_int("simulations", self.simulations, minimum=50)
        require_int("max_repetitions", self.max_repetitions, minimum=2)
        require_int("seed", self.seed, minimum=0)
        require_choice("energy_metric", self.energy_metric, ENERGY_METRICS)
        self.factors = [str(f) for f in self.factors]

    @property
    def relative_effect(self) -> float | None:
        """The effect as a fraction; None for `observed` (or text that is not a number)."""
        try:
            return float(self.effect)
        except ValueError:
            return None
