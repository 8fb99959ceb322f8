"""A sensor whose power drifts upward over wall time, as a device that heats up or a neighbour
that starts loading the machine: its idle power rises too. Named by an energy backend file
(`drifting.yaml`) that tests write into a search path."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy._backend import Backend, Reading
from green_ai.energy._measurement import MEASURED

BACKEND_FILE = """\
defaults:
  - base_energy
  - _self_
backend: drifting
factory:
  _target_: search.drifting.drifting
  origin: {origin}
  idle_w: {idle_w}
  drift_w_per_s: {drift_w_per_s}
  doubling_s: {doubling_s}
parts: [gpu]
"""


class DriftingBackend(Backend):
    """Power `idle_w + drift_w_per_s * t`, t the seconds since the time written in `origin`,
    or with `doubling_s` power `idle_w` doubling every that many seconds; its energy counter
    is that power's integral."""

    name = "drifting"
    kind = MEASURED

    def __init__(
        self, origin: float, idle_w: float, drift_w_per_s: float, doubling_s: float | None
    ) -> None:
        self.origin = origin
        self.idle_w = idle_w
        self.drift = drift_w_per_s
        self.rate = math.log(2) / doubling_s if doubling_s else None
        self.device_names = ["drifting sensor"]

    def read(self) -> Reading:
        t = time.time() - self.origin
        if self.rate is not None:
            power = self.idle_w * math.exp(self.rate * t)
            joules = self.idle_w * (math.exp(self.rate * t) - 1) / self.rate
        else:
            power = self.idle_w + self.drift * t
            joules = self.idle_w * t + self.drift * t * t / 2
        return Reading(energy_j={"gpu": joules}, power_w={"gpu": power})

    def part(self, device: str) -> str:
        return "gpu"


def drifting(
    settings: EnergyConfig,
    *,
    device: torch.device | None,
    cpu_time: Callable[[], float],
    origin: str,
    idle_w: float,
    drift_w_per_s: float,
    doubling_s: float | None = None,
) -> Backend:
    return DriftingBackend(float(Path(origin).read_text()), idle_w, drift_w_per_s, doubling_s)


def write_backend(
    folder: Path,
    *,
    idle_w: float = 10.0,
    drift_w_per_s: float = 5.0,
    doubling_s: float | None = None,
) -> Path:
    """The backend's file in `folder/energy/` (a search path), its clock starting now."""
    (folder / "energy").mkdir(parents=True, exist_ok=True)
    origin = folder / "origin.txt"
    origin.write_text(repr(time.time()))
    text = BACKEND_FILE.format(
        origin=origin,
        idle_w=idle_w,
        drift_w_per_s=drift_w_per_s,
        doubling_s="null" if doubling_s is None else doubling_s,
    )
    (folder / "energy" / "drifting.yaml").write_text(text)
    return folder
