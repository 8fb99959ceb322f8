"""The `tracking` group: where MLflow runs go (conf/tracking/*.yaml); and the settings of
`python -m green_ai.measure`, which are that group and `energy`."""

from __future__ import annotations

from dataclasses import dataclass, field

from green_ai.config.energy import EnergyConfig
from green_ai.errors import UserError


@dataclass
class TrackingConfig:
    """MLflow store and experiment.

    `uri`: null keeps `MLFLOW_TRACKING_URI` if set, else the embedded SQLite store
    `sqlite:///mlflow.db` in the directory the command was started from (not Hydra's run dir).
    """

    uri: str | None = None
    experiment: str = "green_ai"

    def __post_init__(self) -> None:
        if not self.experiment.strip():
            raise UserError("tracking.experiment='' must name an MLflow experiment")


@dataclass
class MeasureConfig:
    """`python -m green_ai.measure`: which meters measure the command, where the run goes."""

    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
