"""The figures of one inference run (thesis §4.2.3), from its trace and its energy.

Energy is gross: idle power stays in, because idling between batches is part of what batching
trades (§4.2.3). It is `None` when nothing measured it — absent, never 0; so is `co2_g`, its
grams of CO2-equivalent at the configured grid intensity (`green_ai.energy.co2_g`, as training
runs log it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from green_ai.energy import co2_g as grams_co2
from green_ai.inference.server import Trace

__all__ = ["RunMetrics", "run_metrics"]


@dataclass(frozen=True)
class RunMetrics:
    """Names as in docs/architecture.md, "Inference run"."""

    requests: int
    duration_s: float
    response_max_s: float
    response_p50_s: float
    response_p95_s: float
    response_p99_s: float
    batch_size_mean: float
    batches: int
    throughput_rps: float
    arrival_lag_max_s: float
    energy_j: float | None = None
    energy_per_image_j: float | None = None
    power_peak_w_mean: float | None = None
    co2_g: float | None = None

    def as_dict(self) -> dict[str, float]:
        """Metric name -> value, leaving out what was not measured (MLflow, printing)."""
        return {k: float(v) for k, v in asdict(self).items() if v is not None and k != "requests"}


def run_metrics(
    trace: Trace, *, energy_j: float | None, grid_intensity_g_per_kwh: float | None = None
) -> RunMetrics:
    """Metrics of a verified trace; `energy_j` is the gross energy of the whole run.

    The run lasts from the first arrival to the last answer. `power_peak_w_mean` is the mean
    over batches of each batch's peak power (Table 4.1), where the meter gave one.
    """
    n = len(trace.arrivals)
    response = trace.response_s
    duration = float(trace.completions.max() - trace.arrivals[0])
    p50, p95, p99 = np.percentile(response, [50, 95, 99])
    peaks = [b.power_peak_w for b in trace.batches if b.power_peak_w is not None]
    return RunMetrics(
        requests=n,
        duration_s=duration,
        response_max_s=float(response.max()),
        response_p50_s=float(p50),
        response_p95_s=float(p95),
        response_p99_s=float(p99),
        batch_size_mean=n / len(trace.batches),
        batches=len(trace.batches),
        throughput_rps=n / duration if duration > 0 else float("inf"),
        arrival_lag_max_s=max(trace.wake_lags, default=0.0),
        energy_j=energy_j,
        energy_per_image_j=None if energy_j is None else energy_j / n,
        power_peak_w_mean=float(np.mean(peaks)) if peaks else None,
        co2_g=(
            None
            if energy_j is None or grid_intensity_g_per_kwh is None
            else grams_co2(energy_j, grid_intensity_g_per_kwh)
        ),
    )
