"""`build_meter`: read `cfg.energy`, pick a backend (`auto` picks the best available)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from green_ai.energy._backend import Backend
from green_ai.energy._meter import EnergyMeter
from green_ai.energy._nvml import open_nvml
from green_ai.energy._rapl import RaplBackend
from green_ai.energy._simple import EstimateBackend, NoneBackend
from green_ai.errors import UserError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "nvml", "rapl", "estimate", "none")
_FALLBACK_HINT = "use energy=auto (best available), energy=estimate or energy=none"


def build_meter(
    energy_cfg: Mapping[str, Any],
    device: torch.device,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    cpu_time: Callable[[], float] = time.process_time,
    threaded: bool = True,
) -> EnergyMeter:
    """The meter that `energy_cfg` (the `energy` config group) asks for, measuring `device`.

    Logs one line saying which backend measures and why. A backend that was asked for by name
    and cannot work here is a `UserError` whose message says what to use instead. The keyword
    arguments replace time and CPU-time sources (tests) and can turn off the sampler thread.
    """
    cfg = _validated(energy_cfg)
    device = torch.device(device)
    backend, why = _choose(cfg, device, cpu_time)
    log.info("energy: %s, %s", backend.describe(), why)
    return EnergyMeter(
        backend,
        device,
        idle_s=cfg["idle_s"],
        settle_s=cfg["settle_s"],
        clock=clock,
        sleep=sleep,
        threaded=threaded,
    )


def _choose(
    cfg: dict[str, Any], device: torch.device, cpu_time: Callable[[], float]
) -> tuple[Backend, str]:
    name = cfg["backend"]
    if name == "none":
        return NoneBackend(), "as configured (energy=none)"
    if name == "estimate":
        return EstimateBackend(cfg["watts_per_core"], cpu_time), "as configured (energy=estimate)"
    if name == "nvml":
        try:
            return open_nvml(cfg, device), "as configured (energy=nvml)"
        except UserError as exc:
            raise UserError(f"energy=nvml: {exc}; {_FALLBACK_HINT}") from exc
    if name == "rapl":
        try:
            backend = RaplBackend(cfg["powercap_root"], cfg["interval_s"])
            return backend, "as configured (energy=rapl)"
        except UserError as exc:
            raise UserError(f"energy=rapl: {exc}; {_FALLBACK_HINT}") from exc
    return _auto(cfg, device, cpu_time)


def _auto(
    cfg: dict[str, Any], device: torch.device, cpu_time: Callable[[], float]
) -> tuple[Backend, str]:
    """NVML when training on CUDA and NVML works, else RAPL when readable, else the estimate."""
    skipped: list[str] = []
    if device.type == "cuda" or cfg["devices"] is not None:
        try:
            return open_nvml(cfg, device), "chosen by energy=auto: CUDA device and NVML works"
        except UserError as exc:
            skipped.append(f"no NVML ({exc})")
    else:
        skipped.append(f"no NVML (the device measured is {device.type}, not a GPU)")
    try:
        backend: Backend = RaplBackend(cfg["powercap_root"], cfg["interval_s"])
        return backend, "chosen by energy=auto: " + "; ".join([*skipped, "RAPL readable"])
    except UserError as exc:
        skipped.append(f"no RAPL ({exc})")
    backend = EstimateBackend(cfg["watts_per_core"], cpu_time)
    return backend, "chosen by energy=auto: " + "; ".join(skipped)


_DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "interval_s": 0.1,
    "idle_s": 2.0,
    "settle_s": 0.5,
    "watts_per_core": 10.0,
    "grid_intensity_g_per_kwh": 475.0,
    "devices": None,
    "counter": True,
    "powercap_root": "/sys/class/powercap",
}


def _validated(energy_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values with defaults filled in; a bad value is a `UserError` naming the key."""
    cfg = dict(_DEFAULTS)
    for key in energy_cfg:
        cfg[str(key)] = energy_cfg[key]
    if cfg["backend"] not in BACKENDS:
        raise UserError(
            f"energy.backend={cfg['backend']!r} is unknown; choose one of {', '.join(BACKENDS)}"
        )
    for key, low, strict in (
        ("interval_s", 0.0, True),
        ("idle_s", 0.0, False),
        ("settle_s", 0.0, False),
        ("watts_per_core", 0.0, True),
        ("grid_intensity_g_per_kwh", 0.0, False),
    ):
        value = cfg[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or value < low or (strict and value == low):
            bound = ">" if strict else ">="
            raise UserError(f"energy.{key}={value!r} must be a number {bound} {low:g}")
        cfg[key] = float(value)
    devices = cfg["devices"]
    if devices is not None:
        try:
            cfg["devices"] = [int(d) for d in devices]
        except (TypeError, ValueError):
            raise UserError(
                f"energy.devices={devices!r} must be null (the device the model runs on) or a "
                "list of CUDA device indices such as [0,1]"
            ) from None
    cfg["counter"] = bool(cfg["counter"])
    cfg["powercap_root"] = str(cfg["powercap_root"])
    return cfg
