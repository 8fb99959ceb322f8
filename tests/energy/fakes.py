# ruff: noqa: N801, N802, N815, N818 - names spelt as in pynvml, which the fake stands in for
"""Hardware stand-ins: a clock the test moves, a fake `pynvml` module, a fake powercap tree."""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"  # the shipped configs


class FakeClock:
    """`clock()` returns the time the test set; `sleep(dt)` moves it on at once."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def sleep(self, dt: float) -> None:
        self.t += dt


class NVMLError(Exception):
    """Like pynvml's: one base class, one subclass per return code."""

    message = "Unknown Error"

    def __str__(self) -> str:
        return self.message


class NVMLError_NotSupported(NVMLError):
    message = "Not Supported"


class NVMLError_LibraryNotFound(NVMLError):
    message = "NVML Shared Library Not Found"


class NVMLError_GpuIsLost(NVMLError):
    message = "GPU is lost"


@dataclass
class FakeGPU:
    """A scripted GPU. `power_w(t)` and `energy_j(t)` give readings at fake time t; `None`
    means the GPU lacks that sensor (NVML answers NotSupported). From `lost_at` on, every
    call raises GpuIsLost; inside the `flaky` interval [start, end) every call raises NVML's
    plain "Unknown Error" (a transient failure)."""

    uuid: str
    name: str = "Fake GPU"
    power_w: Callable[[float], float] | None = None
    energy_j: Callable[[float], float] | None = None
    util_pct: float | None = 50.0
    lost_at: float | None = None
    flaky: tuple[float, float] | None = None
    # NVML_FI_DEV_POWER_INSTANT; `None`: the driver does not have the field.
    instant_w: Callable[[float], float | None] | None = None
    # Core temperature (°C) and SM clock (MHz) at fake time t; `None`: NVML answers NotSupported.
    temp_c: Callable[[float], float] | None = None
    sm_clock_mhz: Callable[[float], float] | None = None


@dataclass
class _FieldValue:
    """pynvml's c_nvmlFieldValue_t, as far as the meter reads it (valueType 1: unsigned int)."""

    nvmlReturn: int
    valueType: int = 1
    value: types.SimpleNamespace = field(default_factory=lambda: types.SimpleNamespace(uiVal=0))


@dataclass
class _Util:
    gpu: int
    memory: int = 0


def fake_pynvml(
    gpus: list[FakeGPU], clock: Callable[[], float], *, library_missing: bool = False
) -> types.ModuleType:
    """A module with the pynvml functions the meter uses, reading `gpus` at `clock()`."""
    mod = types.ModuleType("pynvml")
    mod.calls = {"init": 0, "shutdown": 0}  # type: ignore[attr-defined]

    def check(gpu: FakeGPU) -> None:
        t = clock()
        if gpu.lost_at is not None and t >= gpu.lost_at:
            raise NVMLError_GpuIsLost()
        if gpu.flaky is not None and gpu.flaky[0] <= t < gpu.flaky[1]:
            raise NVMLError()

    def nvmlInit() -> None:
        if library_missing:
            raise NVMLError_LibraryNotFound()
        mod.calls["init"] += 1  # type: ignore[attr-defined]

    def nvmlShutdown() -> None:
        mod.calls["shutdown"] += 1  # type: ignore[attr-defined]

    def nvmlDeviceGetPowerUsage(gpu: FakeGPU) -> int:
        check(gpu)
        if gpu.power_w is None:
            raise NVMLError_NotSupported()
        return round(gpu.power_w(clock()) * 1000)  # milliwatts, like NVML

    def nvmlDeviceGetTotalEnergyConsumption(gpu: FakeGPU) -> int:
        check(gpu)
        if gpu.energy_j is None:
            raise NVMLError_NotSupported()
        return round(gpu.energy_j(clock()) * 1000)  # millijoules, like NVML

    def nvmlDeviceGetFieldValues(gpu: FakeGPU, field_ids: list[int]) -> list[_FieldValue]:
        check(gpu)
        out = []
        for field_id in field_ids:
            watts = gpu.instant_w(clock()) if gpu.instant_w and field_id == 186 else None
            if watts is None:  # NVML_ERROR_NOT_SUPPORTED, per value as NVML answers it
                out.append(_FieldValue(nvmlReturn=3))
            else:  # milliwatts, like NVML
                out.append(_FieldValue(0, 1, types.SimpleNamespace(uiVal=round(watts * 1000))))
        return out

    def nvmlDeviceGetUtilizationRates(gpu: FakeGPU) -> _Util:
        check(gpu)
        if gpu.util_pct is None:
            raise NVMLError_NotSupported()
        return _Util(gpu=int(gpu.util_pct))

    def nvmlDeviceGetTemperature(gpu: FakeGPU, sensor: int) -> int:
        check(gpu)
        if gpu.temp_c is None or sensor != 0:
            raise NVMLError_NotSupported()
        return round(gpu.temp_c(clock()))  # whole degrees, like NVML

    def nvmlDeviceGetClockInfo(gpu: FakeGPU, clock_type: int) -> int:
        check(gpu)
        if gpu.sm_clock_mhz is None or clock_type != 1:
            raise NVMLError_NotSupported()
        return round(gpu.sm_clock_mhz(clock()))

    funcs = {
        "nvmlInit": nvmlInit,
        "nvmlShutdown": nvmlShutdown,
        "nvmlDeviceGetCount": lambda: len(gpus),
        "nvmlDeviceGetHandleByIndex": lambda i: gpus[i],
        "nvmlDeviceGetUUID": lambda g: g.uuid,
        "nvmlDeviceGetName": lambda g: g.name.encode(),  # old pynvml returns bytes
        "nvmlDeviceGetPowerUsage": nvmlDeviceGetPowerUsage,
        "nvmlDeviceGetTotalEnergyConsumption": nvmlDeviceGetTotalEnergyConsumption,
        "nvmlDeviceGetUtilizationRates": nvmlDeviceGetUtilizationRates,
        "nvmlDeviceGetFieldValues": nvmlDeviceGetFieldValues,
        "nvmlDeviceGetTemperature": nvmlDeviceGetTemperature,
        "nvmlDeviceGetClockInfo": nvmlDeviceGetClockInfo,
        "NVML_TEMPERATURE_GPU": 0,
        "NVML_CLOCK_SM": 1,
        "NVMLError": NVMLError,
        "NVMLError_NotSupported": NVMLError_NotSupported,
        "NVMLError_LibraryNotFound": NVMLError_LibraryNotFound,
        "NVMLError_GpuIsLost": NVMLError_GpuIsLost,
    }
    for name, value in funcs.items():
        setattr(mod, name, value)
    return mod


def make_powercap(root: Path, zones: dict[str, tuple[str, int, int]]) -> Path:
    """Zones `{"intel-rapl:0": ("package-0", energy_uj, max_energy_range_uj), ...}`."""
    root.mkdir(parents=True, exist_ok=True)
    for zone, (name, energy_uj, range_uj) in zones.items():
        d = root / zone
        d.mkdir()
        (d / "name").write_text(name + "\n")
        (d / "max_energy_range_uj").write_text(f"{range_uj}\n")
        set_energy(root, zone, energy_uj)
    return root


def set_energy(root: Path, zone: str, energy_uj: int) -> None:
    (root / zone / "energy_uj").write_text(f"{energy_uj}\n")
