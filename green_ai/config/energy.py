"""Typed settings of the `energy` config group: one field per key, the defaults live here only.

The group's files are its backends: `conf/energy/<name>.yaml` (or a file of that name in the
search path) extends `base_energy` (this dataclass, registered in Hydra's ConfigStore by
`green_ai.config.register_configs`), sets `backend: <name>` and declares the backend: the
`factory` that opens it and the `parts` it measures. `energy.backends=[a,b]` names such files;
`green_ai.energy.build_meter` opens each through its file's factory. `__post_init__` checks what
a type cannot say, so a wrong value is one line naming `energy.<key>=<value>` and what is
allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from green_ai.config.checks import require_choice, require_int, require_number
from green_ai.config.groups import current_sources, option, options
from green_ai.errors import UserError


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
    # The idle baseline is measured as this many consecutive windows of idle_s / idle_windows:
    # their spread is the baseline's own uncertainty, carried into net figures' intervals.
    idle_windows: int = 5
    # Re-measure idle power every this many seconds during a study (before the round that
    # follows), logging idle_power_w and idle_drift_w; 0 or null: once, before the first round.
    idle_every_s: float | None = None
    # Where a counter gives the joules, polled power is integrated too; over windows of at
    # least 5 s, a difference above this many percent tags the run energy.disagreement
    # (5: MLPerf Power's accuracy target).
    disagreement_pct: float = 5.0
    # What the file of `backend` declares (code need not set them: `build_meter` and the checks
    # read each named backend's own file). `factory`: `_target_` (a function or `Backend`
    # class, see green_ai/energy/factories.py) and its options. `parts`: what it measures
    # (gpu, cpu, dram), so that `backends` never counts one twice; null: it stands alone.
    factory: dict[str, Any] | None = None
    parts: list[str] | None = None

    def __post_init__(self) -> None:
        require_choice("energy.backend", self.backend, sorted(energy_backends()))
        if self.backends is not None:
            self.backends = list(self.backends)
            _check_backends(self.backends)
        require_number("energy.interval_s", self.interval_s, low=0.0, strict=True, unit=" s")
        require_number("energy.idle_s", self.idle_s, low=0.0, unit=" s")
        require_number("energy.settle_s", self.settle_s, low=0.0, unit=" s")
        require_number("energy.watts_per_core", self.watts_per_core, low=0.0, strict=True)
        require_int("energy.idle_windows", self.idle_windows, minimum=1)
        if self.idle_every_s is not None:
            require_number("energy.idle_every_s", self.idle_every_s, low=0.0, unit=" s")
        require_number("energy.disagreement_pct", self.disagreement_pct, low=0.0, strict=True)
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


def energy_backends() -> dict[str, dict[str, Any]]:
    """Every backend the `energy` group's files declare, by name: each file's content (its
    `factory` and `parts`). Read from conf/ and the search path (`green_ai.config.groups`)."""
    sources = current_sources()
    found = {name: option("energy", name, sources) or {} for name in options("energy", sources)}
    for name, node in found.items():
        if not isinstance(node.get("factory"), dict) or "_target_" not in node["factory"]:
            raise UserError(
                f"energy={name}: its file names no factory._target_ (the function or Backend "
                "class that opens it; see green_ai/energy/factories.py)"
            )
    return found


def _check_backends(names: list[str]) -> None:
    shown = f"energy.backends=[{','.join(str(n) for n in names)}]"
    if not names:
        raise UserError(f"{shown} is empty; list meters such as [nvml,rapl], or use energy=none")
    known = energy_backends()
    for name in names:
        require_choice("energy.backends", name, sorted(known))
    alone = [n for n, node in known.items() if node.get("parts") is None]
    if len(names) > 1 and set(alone) & set(names):
        together = ", ".join(sorted(set(known) - set(alone)))
        raise UserError(f"{shown}: {_and(alone)} stand alone; combine only {together}")
    if len(set(names)) != len(names):
        raise UserError(f"{shown} names a meter twice")
    counted: dict[str, str] = {}
    for name in names:
        for part in known[name]["parts"]:
            if part in counted:
                raise UserError(
                    f"{shown} would count the {str(part).upper()} twice; use "
                    f"{counted[part]} or {name}, not both"
                )
            counted[part] = name


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _checked_region(region: str) -> str:
    # Read lazily: the table lives in green_ai.energy, whose import pulls in torch.
    from green_ai.energy._carbon import grid_intensity

    grid_intensity(region, 0.0)  # an unknown code is a UserError listing the known ones
    return region.strip().upper()
