"""The energy meter: named windows over NVML, RAPL, an estimate or nothing (thesis §3.3.3).

    meter = build_meter(EnergyConfig(backends=["nvml", "rapl"]), device="cuda")  # one log line
    idle_w = meter.measure_idle()          # training subtracts idle power; inference does not
    with meter.window("epoch") as w: ...
    metrics = measurement_metrics(w.measurement)  # absent energy stays absent, never 0
    meter.close()

See docs/architecture.md ("The energy meter API") for the contract. The backends are the files
of the `energy` config group (conf/energy/*.yaml): each names the factory that opens it
(green_ai/energy/factories.py); docs/extending.md adds one.
"""

from __future__ import annotations

from green_ai.config.energy import EnergyConfig, energy_backends
from green_ai.energy._backend import CPU, DRAM, GPU, PARTS, Backend, Reading, SensorError
from green_ai.energy._build import build_meter
from green_ai.energy._carbon import co2_g, grid_intensity, grid_regions
from green_ai.energy._measurement import (
    ESTIMATED,
    MEASURED,
    NONE,
    PARTIAL,
    UNAVAILABLE,
    Measurement,
    measurement_metrics,
    measurement_tags,
)
from green_ai.energy._meter import EnergyMeter, Window

__all__ = [
    "CPU",
    "DRAM",
    "ESTIMATED",
    "GPU",
    "MEASURED",
    "NONE",
    "PARTIAL",
    "PARTS",
    "UNAVAILABLE",
    "Backend",
    "EnergyConfig",
    "EnergyMeter",
    "Measurement",
    "Reading",
    "SensorError",
    "Window",
    "build_meter",
    "energy_backends",
    "co2_g",
    "grid_intensity",
    "grid_regions",
    "measurement_metrics",
    "measurement_tags",
]
