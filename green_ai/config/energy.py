"""Typed settings of the `energy` config group: one field per key, the defaults live here only.

`conf/energy/<name>.yaml` extends `base_energy` (this dataclass, registered in Hydra's
ConfigStore by `green_ai.config.register_configs`) and sets only its `backend`.
`__post_init__` checks what a type cannot say, so a wrong value is one line naming
`energy.<key>=<value>` and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from green_ai.config.checks import require_choice, require_number
from green_ai.errors import UserError

# `energy=<name>` group choices; `auto` takes every sensor that works here.
BACKENDS = ("auto", "nvml", "rapl", "estimate", "none")
# What `energy.backends` may list together (`auto` and `none` stand alone).
METERS = ("nvml", "rapl", "estimate")


@dataclass
class EnergyConfig:
    """`energy.*`: which sensors measure, how often, the idle baseline and the carbon factor.

    `backends` (a list) wins over `backend` when set. `region`, when set, replaces
    `grid_intensity_g_per_kwh` by the yearly average of that country shipped with the package.
    """

    backend: str = "auto"
    backends: list[str] | None = None
    # Power sampling period: 100 ms in training (thesis §3.3.3); inference uses 10 ms (§4.2.3).
    interval_s: float = 0.1
    idle_s: float = 2.0
    settle_s: float = 0.5
    watts_per_core: float = 10.0
    grid_intensity_g_per_kwh: float = 475.0
    region: str | None = None
    devices: list[int] | None = None
    counter: bool = True
    powercap_root: str = "/sys/class/powercap"

    def __post_init__(self) -> None:
        require_choice("energy.backend", self.backend, BACKENDS)
        if self.backends is not None:
            self.backends = list(self.backends)
            _check_backends(self.backends)
        require_number("energy.interval_s", self.interval_s, low=0.0, strict=True, unit=" s")
        require_number("energy.idle_s", self.idle_s, low=0.0, unit=" s")
        require_number("energy.settle_s", self.settle_s, low=0.0, unit=" s")
        require_number("energy.watts_per_core", self.watts_per_core, low=0.0, strict=True)
        require_number("energy.grid_intensity_g_per_kwh", self.grid_intensity_g_per_kwh, low=0.0)
        if self.devices is not None:
            self.devices = list(self.devices)
            if not all(isinstance(d, int) and not isinstance(d, bool) for d in self.devices):
                raise UserError(
                    f"energy.devices={self.devices!r} must be null (the device the model runs "
                    "on) or a list of CUDA device indices such as [0,1]"
                )
        if self.region is not None:
            self.region = _checked_region(self.region)

    @property
    def meters(self) -> list[str]:
        """The backends to open: `backends` when set, else `[backend]`."""
        return list(self.backends) if self.backends is not None else [self.backend]


def _check_backends(names: list[str]) -> None:
    shown = f"energy.backends=[{','.join(str(n) for n in names)}]"
    if not names:
        raise UserError(f"{shown} is empty; list meters such as [nvml,rapl], or use energy=none")
    for name in names:
        require_choice("energy.backends", name, BACKENDS)
    if len(names) > 1 and ({"auto", "none"} & set(names)):
        raise UserError(f"{shown}: auto and none stand alone; combine only {', '.join(METERS)}")
    if len(set(names)) != len(names):
        raise UserError(f"{shown} names a meter twice")
    if {"rapl", "estimate"} <= set(names):
        raise UserError(f"{shown} would count the CPU twice; use rapl or estimate, not both")


def _checked_region(region: str) -> str:
    # Read lazily: the table lives in green_ai.energy, whose import pulls in torch.
    from green_ai.energy._carbon import grid_intensity

    grid_intensity(region, 0.0)  # an unknown code is a UserError listing the known ones
    return region.strip().upper()
