"""`build_meter`: open the backends the `energy` settings name, each through the factory its
file in the `energy` config group declares (conf/energy/*.yaml, or the search path's)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from green_ai.config.energy import EnergyConfig, energy_backends
from green_ai.energy._backend import Backend
from green_ai.energy._meter import EnergyMeter
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
        idle_windows=settings.idle_windows,
        disagreement_pct=settings.disagreement_pct,
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
    """The backends to open, and what a choosing backend (`auto`) skipped with the reason."""
    names = cfg.meters
    opened = Opened([], {})
    for name in names:
        try:
            one = open_backend(name, cfg, device, cpu_time)
        except UserError as exc:
            for backend in opened.backends:
                backend.close()
            label = f"energy={name}" if len(names) == 1 else f"energy.backends: {name}"
            raise UserError(f"{label}: {exc}; {_FALLBACK_HINT}") from exc
        opened.backends += one.backends
        opened.skipped.update(one.skipped)
    return opened.backends, opened.skipped


@dataclass
class Opened:
    """What a factory opened; a choosing factory also says what it skipped and why."""

    backends: list[Backend]
    skipped: dict[str, str] = field(default_factory=dict)


def open_backend(
    name: str, cfg: EnergyConfig, device: torch.device | None, cpu_time: Callable[[], float]
) -> Opened:
    """Open the backend that `conf/energy/<name>.yaml` (or the search path's) declares: its
    `factory` node instantiated and called with the settings, device and CPU-time source."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    node = energy_backends()[name]  # EnergyConfig admits only these names
    try:
        factory = instantiate(node["factory"], _partial_=True)
    except InstantiationException as exc:
        target = node["factory"].get("_target_")
        raise UserError(
            f"energy={name}: factory._target_={target} cannot be loaded "
            f"({str(exc).splitlines()[0]}); name an importable function or Backend class"
        ) from None
    made = factory(cfg, device=device, cpu_time=cpu_time)
    if isinstance(made, Opened):
        return made
    if not isinstance(made, Backend):
        raise UserError(
            f"energy={name}: its factory returned {type(made).__name__}, not a "
            "green_ai.energy.Backend"
        )
    return Opened([made])
