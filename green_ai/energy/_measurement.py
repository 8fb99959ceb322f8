"""What one measurement window returns, and the figures derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from green_ai.energy._backend import PARTS

# Kinds of figure. `partial`: the energy is there, but some power samples failed and the gap
# between the good ones was interpolated. `unavailable`: a sensor failed at a window edge (GPU
# lost, permission), so the total is missing; parts that did read are kept. `reason` says why.
MEASURED = "measured"
ESTIMATED = "estimated"
PARTIAL = "partial"
UNAVAILABLE = "unavailable"
NONE = "none"
LACKING = (PARTIAL, UNAVAILABLE)


@dataclass(frozen=True)
class Measurement:
    """One closed window.

    Energy is `None` when it was not measured — never a fake 0. `energy_net_j` is gross minus
    idle power × duration (thesis §3.3.3) and is `None` without an idle baseline; training reports
    it, the inference study keeps the gross figure because idling is part of what it measures
    (thesis §4.2.3). `parts_j` splits the energy into `gpu`, `cpu` and `dram` (each part that was
    measured, also when the total is unavailable), `parts_net_j` likewise net of each part's idle
    power. `gpu_util_mean` is in percent (thesis §3.6.3). `temp_c_start`, `temp_c_end` and
    `sm_clock_mhz_mean` are the GPU's temperature at both edges and its mean SM clock over the
    samples, where NVML gives them. `disagreement` says, where a counter and polled power both
    measured the window and differ by more than `energy.disagreement_pct`, both figures.
    """

    name: str
    duration_s: float
    energy_j: float | None = None
    energy_net_j: float | None = None
    power_mean_w: float | None = None
    power_peak_w: float | None = None
    gpu_util_mean: float | None = None
    per_device_j: dict[str, float] = field(default_factory=dict)
    parts_j: dict[str, float] = field(default_factory=dict)
    parts_net_j: dict[str, float] = field(default_factory=dict)
    backend: str = "none"
    kind: str = NONE
    reason: str | None = None
    temp_c_start: float | None = None
    temp_c_end: float | None = None
    sm_clock_mhz_mean: float | None = None
    disagreement: str | None = None


_METRIC_FIELDS = (
    "energy_j",
    "energy_net_j",
    "power_mean_w",
    "power_peak_w",
    "gpu_util_mean",
    "duration_s",
    "temp_c_start",
    "temp_c_end",
    "sm_clock_mhz_mean",
)


def measurement_metrics(m: Measurement) -> dict[str, float]:
    """Metric name -> value for MLflow, leaving out every figure that is `None`.

    Parts come as `energy_gpu_j`, `energy_cpu_j`, `energy_dram_j` and their `energy_<part>_net_j`.
    Absent energy stays absent: a missing metric cannot be mistaken for zero joules.
    """
    out: dict[str, float] = {}
    for name in _METRIC_FIELDS:
        value = getattr(m, name)
        if value is not None:
            out[name] = float(value)
    for part in PARTS:
        if part in m.parts_j:
            out[f"energy_{part}_j"] = float(m.parts_j[part])
        if part in m.parts_net_j:
            out[f"energy_{part}_net_j"] = float(m.parts_net_j[part])
    return out


def measurement_tags(m: Measurement) -> dict[str, str]:
    """`energy.kind` (measured, estimated, partial, unavailable, none) and, when a figure is
    missing or patched, `energy.reason`; `energy.disagreement` when the counter and the polled
    power disagree: the tags a run measured by this window carries."""
    tags = {"energy.kind": m.kind}
    if m.disagreement:
        tags["energy.disagreement"] = m.disagreement
    if m.reason:
        tags["energy.reason"] = m.reason[
            :5000
        ]  # MLflow's tag value limit is generous, not infinite
    return tags
