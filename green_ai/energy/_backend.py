"""The contract between the meter and a sensor backend.

Three layers: the meter (windows, idle baseline), a backend (one per sensor family), the vendor
library. A backend turns vendor errors into `SensorError` at its boundary, so the meter never
sees an `NVMLError` or an `OSError`, and reports in SI units (joules, watts, seconds).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

# What a device's energy belongs to. Several backends measure the same windows (NVML for the
# GPU, RAPL for CPU packages and DRAM), and each window reports its total and each part: the
# thesis measured the GPU alone and names that a threat to construct validity (§3.7.3).
GPU = "gpu"
CPU = "cpu"
DRAM = "dram"
PARTS = (GPU, CPU, DRAM)


class SensorError(RuntimeError):
    """A reading failed (GPU lost, permission revoked, file gone); the message is the reason."""


@dataclass(frozen=True)
class Reading:
    """What a backend read at one instant, per device.

    `energy_j`: a cumulative, monotonic counter (already unwrapped), or `None` where the sensor
    has no counter. `power_w`: instantaneous power, or `None` where it is not sampled.
    `util_pct`: mean GPU utilisation over the devices, or `None`. `instant_w`: power at this
    very moment where the sensor also has a faster reading than `power_w` (NVML's instant
    field, beside its one-second average): it gives the peak, never the joules. `temp_c` and
    `sm_clock_mhz`: the devices' mean temperature and SM clock where the sensor gives them
    (the device's thermal state, thesis §4.6.1).
    """

    energy_j: dict[str, float] | None = None
    power_w: dict[str, float] | None = None
    util_pct: float | None = None
    instant_w: dict[str, float] | None = None
    temp_c: float | None = None
    sm_clock_mhz: float | None = None


class Backend(ABC):
    """A sensor family. `read()` is called at each window edge and, when `polls` is true, by
    the meter's background sampler while a window is open."""

    name: str = "none"
    kind: str = "none"
    polls: bool = False
    device_names: list[str]

    @abstractmethod
    def read(self) -> Reading:
        """One reading now; raises `SensorError` on failure."""

    def part(self, device: str) -> str:
        """`gpu`, `cpu` or `dram`: what the device labelled `device` in a reading is."""
        return CPU

    def describe(self, interval_s: float) -> str:
        """A few words on how this backend measures (the meter's sampling period given), for
        the one log line of `build_meter`."""
        return self.name

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release the vendor library."""
