"""NVIDIA GPUs through NVML (`pynvml`, package nvidia-ml-py).

Energy comes from the hardware counter `nvmlDeviceGetTotalEnergyConsumption` (millijoules since
the driver loaded) where the GPU has one (Volta and later), else from power samples. Power
(`nvmlDeviceGetPowerUsage`, milliwatts) and utilisation are sampled in both cases: peak power
per window needs samples (thesis §4.2.3), utilisation is the load figure of thesis §3.6.3.

Since Ampere, `nvmlDeviceGetPowerUsage` is a one-second average: on an H100 it took 0.95 s to
follow a step, and it read 461 W on 20 ms spikes that the instant field `NVML_FI_DEV_POWER_INSTANT`
read at 761 W (docs/energy-validation.md). Where the driver has that field, the peak comes from
it; the joules do not (integrated, it read 6% above the counter over a whole job).
Vendor units and errors stop here: the meter sees joules, watts and `SensorError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from green_ai.energy._backend import GPU, Backend, Reading, SensorError
from green_ai.energy._measurement import MEASURED
from green_ai.errors import UserError


def _text(value: str | bytes) -> str:
    # Older pynvml releases return bytes, newer ones str.
    return value.decode() if isinstance(value, bytes) else str(value)


def _norm_uuid(uuid: str) -> str:
    uuid = uuid.strip().lower()
    return uuid[4:] if uuid.startswith("gpu-") else uuid


def _torch_uuids() -> list[str] | None:
    """UUIDs of the CUDA devices this process sees, in its own order, where torch knows them."""
    if not torch.cuda.is_available():
        return None
    try:
        return [
            str(torch.cuda.get_device_properties(i).uuid) for i in range(torch.cuda.device_count())
        ]
    except (AttributeError, RuntimeError):
        return None


def visible_nvml_indices(
    nvml_uuids: list[str], env: str | None, torch_uuids: list[str] | None = None
) -> list[int]:
    """NVML index of each CUDA device this process sees, in the process's order.

    CUDA numbers devices after `CUDA_VISIBLE_DEVICES` (and by default fastest first), NVML by PCI
    bus: the same index can name two different GPUs. We match by UUID: torch's own UUIDs when it
    has a GPU, else the `CUDA_VISIBLE_DEVICES` entries: `GPU-<uuid>` (or a unique prefix of it,
    with or without `GPU-`) by UUID, integers as NVML indices. As in CUDA, the first entry that
    names no device ends the list.
    """
    known = [_norm_uuid(u) for u in nvml_uuids]
    if torch_uuids is not None:
        out = []
        for uuid in torch_uuids:
            norm = _norm_uuid(uuid)
            if norm not in known:
                raise UserError(f"CUDA device with UUID {uuid} is not among NVML's devices")
            out.append(known.index(norm))
        return out
    if env is None:
        return list(range(len(nvml_uuids)))
    out = []
    for raw in env.split(","):
        entry = raw.strip()
        if entry.lstrip("-").isdigit():
            index = int(entry)
            if not 0 <= index < len(known) or index in out:
                break
            out.append(index)
            continue
        matches = [i for i, u in enumerate(known) if entry and u.startswith(_norm_uuid(entry))]
        if len(matches) != 1 or matches[0] in out:
            break
        out.append(matches[0])
    return out


class NvmlBackend(Backend):
    """One or more GPUs, summed and reported per device (`cuda:<index as torch sees it>`)."""

    name = "nvml"
    kind = MEASURED

    def __init__(
        self,
        nvml: ModuleType,
        devices: list[tuple[str, Any, str]],
        *,
        use_counter: bool,
    ) -> None:
        self._nvml = nvml
        self._devices = devices  # (label, handle, product name)
        self.device_names = [f"{label} {product}" for label, _, product in devices]
        handles = [h for _, h, _ in devices]
        self.counter = use_counter and all(
            self._supported(nvml.nvmlDeviceGetTotalEnergyConsumption, h) for h in handles
        )
        self.power = all(self._supported(nvml.nvmlDeviceGetPowerUsage, h) for h in handles)
        self.util = all(self._supported(nvml.nvmlDeviceGetUtilizationRates, h) for h in handles)
        self.instant = self.power and all(_instant_w(nvml, h) is not None for h in handles)
        # The thermal state (thesis §4.6.1), where the driver and pynvml release answer.
        self.thermal = all(_temp_c(nvml, h) is not None for h in handles)
        self.clock = all(_sm_clock_mhz(nvml, h) is not None for h in handles)
        if not (self.counter or self.power):
            raise UserError(
                f"{', '.join(self.device_names)} has neither an energy counter nor a power reading"
            )
        self.polls = self.power or self.util

    def _supported(self, fn: Callable[[Any], Any], handle: Any) -> bool:
        try:
            fn(handle)
        except self._nvml.NVMLError:
            return False
        return True

    def read(self) -> Reading:
        nvml = self._nvml
        energy: dict[str, float] | None = {} if self.counter else None
        power: dict[str, float] | None = {} if self.power else None
        instant: dict[str, float] | None = {} if self.instant else None
        utils: list[float] = []
        temps: list[float | None] = []
        clocks: list[float | None] = []
        for label, handle, _ in self._devices:
            try:
                if energy is not None:
                    energy[label] = nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
                if power is not None:
                    power[label] = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
                if instant is not None:
                    watts = _instant_w(nvml, handle)
                    # A field that stops answering costs the peak its precision, not the run.
                    if watts is None:
                        instant = None
                    else:
                        instant[label] = watts
                if self.util:
                    utils.append(float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu))
            except nvml.NVMLError as exc:
                raise SensorError(f"NVML failed on {label}: {exc}") from exc
            # A temperature or clock that stops answering costs that figure, not the joules.
            if self.thermal:
                temps.append(_temp_c(nvml, handle))
            if self.clock:
                clocks.append(_sm_clock_mhz(nvml, handle))
        return Reading(
            energy_j=energy,
            power_w=power,
            util_pct=_mean(utils),
            instant_w=instant,
            temp_c=_mean(temps),
            sm_clock_mhz=_mean(clocks),
        )

    def part(self, device: str) -> str:
        return GPU

    def describe(self, interval_s: float) -> str:
        how = "counter" if self.counter else f"polled every {interval_s * 1000:g} ms"
        if self.instant:
            how += ", peak from instant power"
        return f"nvml ({how}) {','.join(label for label, _, _ in self._devices)}"

    def close(self) -> None:
        _shutdown(self._nvml)


def _mean(values: list[float] | list[float | None]) -> float | None:
    """The mean over the devices, or `None` when there are none or any is missing."""
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None) / len(values)


# nvml.h's enums (NVML_TEMPERATURE_GPU, NVML_CLOCK_SM), for pynvml releases that lack the names.
NVML_TEMPERATURE_GPU = 0
NVML_CLOCK_SM = 1


def _temp_c(nvml: ModuleType, handle: Any) -> float | None:
    """The GPU's core temperature in degrees Celsius, or `None` where NVML has none."""
    sensor = getattr(nvml, "NVML_TEMPERATURE_GPU", NVML_TEMPERATURE_GPU)
    return _optional(nvml, "nvmlDeviceGetTemperature", handle, sensor)


def _sm_clock_mhz(nvml: ModuleType, handle: Any) -> float | None:
    """The SM clock in MHz now (it drops when the GPU throttles), or `None`."""
    clock = getattr(nvml, "NVML_CLOCK_SM", NVML_CLOCK_SM)
    return _optional(nvml, "nvmlDeviceGetClockInfo", handle, clock)


def _optional(nvml: ModuleType, name: str, handle: Any, arg: int) -> float | None:
    fn = getattr(nvml, name, None)
    if fn is None:
        return None
    try:
        return float(fn(handle, arg))
    except nvml.NVMLError:
        return None


# nvml.h's field id; pynvml releases before the field was added lack the name, not the driver.
NVML_FI_DEV_POWER_INSTANT = 186


def _instant_w(nvml: ModuleType, handle: Any) -> float | None:
    """Instant power in watts from NVML's field values, or `None` where there is none."""
    field = getattr(nvml, "NVML_FI_DEV_POWER_INSTANT", NVML_FI_DEV_POWER_INSTANT)
    return nvml_field_w(nvml, handle, field)


def nvml_field_w(nvml: ModuleType, handle: Any, field: int) -> float | None:
    """A power field of `nvmlDeviceGetFieldValues` (milliwatts) in watts, or `None` where the
    driver or the pynvml release does not have it."""
    if not hasattr(nvml, "nvmlDeviceGetFieldValues"):
        return None
    try:
        value = nvml.nvmlDeviceGetFieldValues(handle, [field])[0]
    except nvml.NVMLError:
        return None
    if value.nvmlReturn != 0:
        return None
    # The value is a union; the field says which member holds it (milliwatts).
    member = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}
    return float(getattr(value.value, member.get(int(value.valueType), "uiVal"))) / 1000.0


def _import_pynvml() -> ModuleType:
    try:
        import pynvml
    except ImportError as exc:
        raise UserError("the pynvml module is missing (pip install nvidia-ml-py)") from exc
    return pynvml


def open_nvml(
    *, devices: list[int] | None, device: torch.device | None, use_counter: bool
) -> NvmlBackend:
    """Initialise NVML and resolve the GPUs to measure; `UserError` when that cannot work.

    The GPUs are `devices` (CUDA indices as this process sees them), else the model's `device`,
    else (`device=None`: the machine, e.g. for another process) every GPU visible here.
    """
    if device is not None and device.type != "cuda" and devices is None:
        raise UserError(
            f"the model runs on {device.type}, not a GPU (set energy.devices=[0] to "
            "measure a GPU anyway)"
        )
    nvml = _import_pynvml()
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        raise UserError(f"NVML is not available ({exc})") from exc
    try:
        count = nvml.nvmlDeviceGetCount()
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
        names = [_text(nvml.nvmlDeviceGetName(h)) for h in handles]
        # Measuring the machine must not start CUDA in this process: torch is not asked.
        torch_uuids = _torch_uuids() if device is not None else None
        visible = visible_nvml_indices(uuids, os.environ.get("CUDA_VISIBLE_DEVICES"), torch_uuids)
        if devices is not None:
            wanted = list(devices)
        elif device is not None:
            wanted = [device.index if device.index is not None else _current_cuda_index()]
        else:
            wanted = list(range(len(visible)))
        if not wanted:
            raise UserError("NVML sees no GPU visible to this process")
        chosen = []
        for index in wanted:
            if not 0 <= index < len(visible):
                raise UserError(
                    f"CUDA device {index} is not visible to this process "
                    f"({len(visible)} visible; check energy.devices and CUDA_VISIBLE_DEVICES)"
                )
            nv = visible[index]
            chosen.append((f"cuda:{index}", handles[nv], names[nv]))
        return NvmlBackend(nvml, chosen, use_counter=use_counter)
    except nvml.NVMLError as exc:
        _shutdown(nvml)
        raise UserError(f"NVML failed while listing GPUs ({exc})") from exc
    except UserError:
        _shutdown(nvml)
        raise


def _current_cuda_index() -> int:
    return torch.cuda.current_device() if torch.cuda.is_available() else 0


def _shutdown(nvml: ModuleType) -> None:
    with contextlib.suppress(nvml.NVMLError):
        nvml.nvmlShutdown()
