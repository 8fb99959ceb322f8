"""The energy meter: named windows over NVML, RAPL, an estimate or nothing (thesis §3.3.3).

    meter = build_meter(cfg.energy, device=torch.device("cuda"))  # logs which backend and why
    idle_w = meter.measure_idle()          # training subtracts idle power; inference does not
    with meter.window("epoch") as w: ...
    metrics = measurement_metrics(w.measurement)  # absent energy stays absent, never 0
    meter.close()

See docs/architecture.md ("The energy meter API") for the contract.
"""

from __future__ import annotations

from green_ai.energy._backend import Backend, Reading, SensorError
from green_ai.energy._build import BACKENDS, build_meter
from green_ai.energy._carbon import co2_g, grid_intensity, grid_regions
from green_ai.energy._measurement import (
    ESTIMATED,
    MEASURED,
    NONE,
    UNAVAILABLE,
    Measurement,
    measurement_metrics,
)
from green_ai.energy._meter import EnergyMeter, Window

__all__ = [
    "BACKENDS",
    "ESTIMATED",
    "MEASURED",
    "NONE",
    "UNAVAILABLE",
    "Backend",
    "EnergyMeter",
    "Measurement",
    "Reading",
    "SensorError",
    "Window",
    "build_meter",
    "co2_g",
    "grid_intensity",
    "grid_regions",
    "measurement_metrics",
]
