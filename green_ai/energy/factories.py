"""The factories that `conf/energy/*.yaml` name (`factory._target_`).

Each is called as `factory(settings, device=..., cpu_time=...)` with the `EnergyConfig`, the
device the measured code runs on (`None`: the machine) and the CPU-time source, plus the other
keys of its `factory` node; it returns an open `Backend`, or raises `UserError` saying why the
sensor cannot work here. A backend of one's own is such a function (or a `Backend` subclass
with that constructor) and a YAML file naming it: see docs/extending.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy._backend import Backend
from green_ai.energy._build import Opened, open_backend
from green_ai.energy._nvml import open_nvml
from green_ai.energy._rapl import RaplBackend
from green_ai.energy._simple import EstimateBackend, NoneBackend
from green_ai.errors import UserError

__all__ = ["auto", "estimate", "none", "nvml", "rapl"]


def nvml(
    settings: EnergyConfig, *, device: torch.device | None, cpu_time: Callable[[], float]
) -> Backend:
    """NVIDIA GPUs: `energy.devices`, else the measured device, else every visible GPU."""
    return open_nvml(devices=settings.devices, device=device, use_counter=settings.counter)


def rapl(
    settings: EnergyConfig, *, device: torch.device | None, cpu_time: Callable[[], float]
) -> Backend:
    """CPU packages and DRAM through Linux powercap, under `energy.powercap_root`."""
    return RaplBackend(settings.powercap_root)


def estimate(
    settings: EnergyConfig, *, device: torch.device | None, cpu_time: Callable[[], float]
) -> Backend:
    """CPU time x `energy.watts_per_core`: a labelled model, never a measurement."""
    return EstimateBackend(settings.watts_per_core, cpu_time)


def none(
    settings: EnergyConfig, *, device: torch.device | None, cpu_time: Callable[[], float]
) -> Backend:
    """Durations only."""
    return NoneBackend()


def auto(
    settings: EnergyConfig,
    *,
    device: torch.device | None,
    cpu_time: Callable[[], float],
    tries: Sequence[str],
    fallback: str,
) -> Opened:
    """Every backend of `tries` that opens here (the others skipped, with the reason), and
    `fallback` only when none does: conf/energy/auto.yaml names them."""
    opened = Opened([], {})
    for name in tries:
        try:
            opened.backends += open_backend(name, settings, device, cpu_time).backends
        except UserError as exc:
            opened.skipped[name] = str(exc)
    if not opened.backends:
        opened.backends += open_backend(fallback, settings, device, cpu_time).backends
    return opened
