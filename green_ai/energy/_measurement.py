"""What one measurement window returns, and the figures derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

# Kinds of figure. `unavailable`: the sensor failed during the window (GPU lost, permission);
# the figure is missing and `reason` says why, the training result is kept.
MEASURED = "measured"
ESTIMATED = "estimated"
NONE = "none"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Measurement:
    """One closed window.

    Energy is `None` when it was not measured — never a fake 0. `energy_net_j` is gross minus
    idle power × duration (thesis §3.3.3) and is `None` without an idle baseline; training reports
    it, the inference study keeps the gross figure because idling is part of what it measures
    (thesis §4.2.3). `gpu_util_mean` is in percent (thesis §3.6.3).
    """

    name: str
    duration_s: float
    energy_j: float | None = None
    energy_net_j: float | None = None
    power_mean_w: float | None = None
    power_peak_w: float | None = None
    gpu_util_mean: float | None = None
    per_device_j: dict[str, float] = field(default_factory=dict)
    backend: str = "none"
    kind: str = NONE
    reason: str | None = None


_METRIC_FIELDS = (
    "energy_j",
    "energy_net_j",
    "power_mean_w",
    "power_peak_w",
    "gpu_util_mean",
    "duration_s",
)


def measurement_metrics(m: Measurement) -> dict[str, float]:
    """Metric name -> value for MLflow, leaving out every figure that is `None`.

    Absent energy stays absent: a missing metric cannot be mistaken for zero joules.
    """
    out: dict[str, float] = {}
    for name in _METRIC_FIELDS:
        value = getattr(m, name)
        if value is not None:
            out[name] = float(value)
    return out
