"""Backends without a sensor: `none` (durations only) and `estimate` (a labelled model)."""

from __future__ import annotations

import time
from collections.abc import Callable

from green_ai.energy._backend import Backend, Reading
from green_ai.energy._measurement import ESTIMATED, NONE


class NoneBackend(Backend):
    """Durations only. Energy is absent, never 0 (a null object, like Zeus's `EmptyGPUs`)."""

    name = "none"
    kind = NONE

    def __init__(self) -> None:
        self.device_names = []

    def read(self) -> Reading:
        return Reading()

    def describe(self, interval_s: float) -> str:
        return "none (durations only)"


class EstimateBackend(Backend):
    """Process CPU time × a configured power per busy core.

    A model, not a measurement: every figure it yields has kind `estimated`. It sees only the
    CPU time `cpu_time` counts (this process's, all threads; `green_ai.measure` adds its
    command's), not a GPU, memory or the rest of the machine.
    """

    name = "estimate"
    kind = ESTIMATED

    def __init__(
        self, watts_per_core: float, cpu_time: Callable[[], float] = time.process_time
    ) -> None:
        self.watts_per_core = watts_per_core
        self._cpu_time = cpu_time
        self.device_names = [f"cpu (estimate, {watts_per_core:g} W per busy core)"]

    def read(self) -> Reading:
        return Reading(energy_j={"cpu": self._cpu_time() * self.watts_per_core})

    def describe(self, interval_s: float) -> str:
        return f"estimate (CPU time x {self.watts_per_core:g} W/core)"
