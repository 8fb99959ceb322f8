# ruff: noqa: N802, N818 - names spelt as in pynvml, which this module stands in for
"""A fake `pynvml` for the GPU check's dry run (`scripts/gpu_check.sh --dry-run`).

One GPU whose power is a known function of wall-clock time, so the check's code paths run on a
machine without a GPU and the fake `nvidia-smi` (same folder) reads the same trace from another
process. Like recent GPUs, `nvmlDeviceGetPowerUsage` answers a one-second average and the
instant field the current value; the energy counter is the exact integral. Nothing here is a
measurement.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186
NVML_VALUE_TYPE_UNSIGNED_INT = 1

_BASE_T = 1.7e9  # keeps the counter's float precision well below a millijoule
_IDLE_W, _SWING_W, _PERIOD_S = 60.0, 40.0, 0.7
UUID = "GPU-00000000-0000-4000-8000-0000000000f0"


class NVMLError(Exception):
    pass


def power_w(t: float) -> float:
    return _IDLE_W + _SWING_W * math.sin(2 * math.pi * t / _PERIOD_S)


def energy_j(t: float) -> float:
    """The integral of `power_w` from `_BASE_T` to `t`."""
    t -= _BASE_T

    def primitive(u: float) -> float:
        return _IDLE_W * u - _SWING_W * _PERIOD_S / (2 * math.pi) * math.cos(
            2 * math.pi * (u + _BASE_T) / _PERIOD_S
        )

    return primitive(t) - primitive(0.0)


def _average_w(t: float) -> float:
    return energy_j(t) - energy_j(t - 1.0)


_FIELDS = {NVML_FI_DEV_POWER_INSTANT: power_w, NVML_FI_DEV_POWER_AVERAGE: _average_w}


def nvmlInit() -> None:
    pass


def nvmlShutdown() -> None:
    pass


def nvmlDeviceGetCount() -> int:
    return 1


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    if index != 0:
        raise NVMLError("Invalid Argument")
    return 0


def nvmlDeviceGetUUID(handle: int) -> str:
    return UUID


def nvmlDeviceGetName(handle: int) -> str:
    return "Fake GPU (dry run)"


def nvmlSystemGetDriverVersion() -> str:
    return "0.0 (fake)"


def nvmlDeviceGetEnforcedPowerLimit(handle: int) -> int:
    return 300_000


def nvmlDeviceGetTotalEnergyConsumption(handle: int) -> int:
    return int(energy_j(time.time()) * 1000)


def nvmlDeviceGetPowerUsage(handle: int) -> int:
    return int(_average_w(time.time()) * 1000)


def nvmlDeviceGetUtilizationRates(handle: int) -> SimpleNamespace:
    return SimpleNamespace(gpu=50, memory=10)


def nvmlDeviceGetFieldValues(handle: int, field_ids: list[int]) -> list[SimpleNamespace]:
    t = time.time()
    out = []
    for field in field_ids:
        reader = _FIELDS.get(field)
        value = None if reader is None else reader(t)
        out.append(
            SimpleNamespace(
                fieldId=field,
                nvmlReturn=0 if value is not None else 3,  # 3: NVML_ERROR_NOT_SUPPORTED
                valueType=NVML_VALUE_TYPE_UNSIGNED_INT,
                value=SimpleNamespace(uiVal=int((value or 0.0) * 1000)),
            )
        )
    return out


NVML_TEMPERATURE_GPU = 0
_STARTED = time.time()


def nvmlDeviceGetTemperature(handle: int, sensor: int) -> int:
    """A GPU that warms up: 35 °C, one degree more every ten seconds of this process."""
    return 35 + int((time.time() - _STARTED) / 10)
