"""`build_meter`: open the backends the `energy` settings ask for (`auto`: all that work here)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy._backend import Backend
from green_ai.energy._meter import EnergyMeter
from green_ai.energy._nvml import open_nvml
from green_ai.energy._rapl import RaplBackend
from green_ai.energy._simple import EstimateBackend, NoneBackend
from green_ai.errors import UserError

log = logging.getLogger(__name__)

_FALLBACK_HINT = "use energy=auto (all available), energy=estimate or energy=none"
_SAID: set[str] = set()  # backend lines already logged by this process


def build_meter(
    cfg: EnergyConfig | Mapping[str, Any],
    device: torch.device | str | None,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    cpu_time: Callable[[], float] = time.process_time,
    threaded: bool = True,
) -> EnergyMeter:
    """The meter that `cfg` (the `energy` settings) asks for, measuring `device`.

    `device` is where the measured code runs: a CUDA device is synchronised at window edges and
    is the GPU that `auto` and `nvml` measure; `None` measures the machine (every visible GPU,
    no synchronisation), as for another process. Logs one short line saying what measures,
    once per process; why `auto` chose it goes to the debug log. A backend asked for by name
    that cannot work here is a `UserError` saying what to use instead. The keyword arguments
    replace time and CPU-time sources (tests, `green_ai.measure`) and can turn off the sampler
    thread.
    """
    settings = cfg if isinstance(cfg, EnergyConfig) else _settings(cfg)
    where = None if device is None else torch.device(device)
    backends, skipped = _choose(settings, where, cpu_time)
    meter = EnergyMeter(
        backends,
        where,
        interval_s=settings.interval_s,
        idle_s=settings.idle_s,
        settle_s=settings.settle_s,
        clock=clock,
        sleep=sleep,
        threaded=threaded,
    )
    line = f"energy: {meter.describe()}"
    if skipped:
        line += f" [auto: {', '.join(f'no {name}' for name in skipped)}]"
    (log.debug if line in _SAID else log.info)(line)
    _SAID.add(line)
    for name, why in skipped.items():
        log.debug("energy: auto skipped %s: %s", name, why)
    return meter


def _settings(values: Mapping[str, Any]) -> EnergyConfig:
    """`EnergyConfig` from a mapping such as the composed `cfg.energy` (until every caller
    passes the typed settings)."""
    known = {f.name for f in fields(EnergyConfig)}
    unknown = sorted(str(k) for k in values if str(k) not in known)
    if unknown:
        raise UserError(f"energy.{unknown[0]} is not a setting; known: {', '.join(sorted(known))}")
    return EnergyConfig(**{str(k): values[k] for k in values})


def _choose(
    cfg: EnergyConfig, device: torch.device | None, cpu_time: Callable[[], float]
) -> tuple[list[Backend], dict[str, str]]:
    """The backends to open, and for `auto` the ones it skipped with the reason."""
    names = cfg.meters
    if names == ["auto"]:
        return _auto(cfg, device, cpu_time)
    if names == ["none"]:
        return [NoneBackend()], {}
    opened: list[Backend] = []
    for name in names:
        try:
            opened.append(_open(name, cfg, device, cpu_time))
        except UserError as exc:
            for backend in opened:
                backend.close()
            label = f"energy={name}" if len(names) == 1 else f"energy.backends: {name}"
            raise UserError(f"{label}: {exc}; {_FALLBACK_HINT}") from exc
    return opened, {}


def _open(
    name: str, cfg: EnergyConfig, device: torch.device | None, cpu_time: Callable[[], float]
) -> Backend:
    if name == "nvml":
        return open_nvml(devices=cfg.devices, device=device, use_counter=cfg.counter)
    if name == "rapl":
        return RaplBackend(cfg.powercap_root)
    if name == "estimate":
        return EstimateBackend(cfg.watts_per_core, cpu_time)
    raise ValueError(f"not a meter: {name}")  # EnergyConfig admits no other name


def _auto(
    cfg: EnergyConfig, device: torch.device | None, cpu_time: Callable[[], float]
) -> tuple[list[Backend], dict[str, str]]:
    """Every meter that works: NVML when a GPU is measured, RAPL when readable; the estimate
    only when neither does (it would count the CPU a second time next to RAPL)."""
    found: list[Backend] = []
    skipped: dict[str, str] = {}
    if device is None or device.type == "cuda" or cfg.devices is not None:
        try:
            found.append(_open("nvml", cfg, device, cpu_time))
        except UserError as exc:
            skipped["nvml"] = str(exc)
    else:
        skipped["nvml"] = f"the device measured is {device.type}, not a GPU"
    try:
        found.append(_open("rapl", cfg, device, cpu_time))
    except UserError as exc:
        skipped["rapl"] = str(exc)
    if not found:
        found.append(_open("estimate", cfg, device, cpu_time))
    return found, skipped
