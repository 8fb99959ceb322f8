"""What every part of the GPU check shares: its time budget, progress lines, its section.

Each part (`env.py`, `energy.py`, `training.py`, `inference.py`) is a separate process that
`scripts/gpu_check.sh` starts with `--out DIR --budget-s S [--cpu]`. A part writes its markdown
section `DIR/<part>.md` and its figures `DIR/<part>.json` after every item it measures, so a
part stopped by its hard time limit still leaves what it measured; it skips an item with a line
saying so when its own deadline comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

# The margin kept at the end of a budget for writing results and closing the GPU context.
MARGIN_S = 4.0


class Part:
    """One part of the check: deadline, progress, and a section rewritten as it grows."""

    def __init__(self, name: str, title: str, out: Path, budget_s: float, cpu: bool) -> None:
        self.name = name
        self.title = title
        self.out = out
        self.cpu = cpu
        self.started = time.monotonic()
        self.deadline = self.started + budget_s - MARGIN_S
        self.lines: list[str] = []
        self.data: dict[str, Any] = {}
        out.mkdir(parents=True, exist_ok=True)

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, text: str) -> None:
        """A progress line on stdout (the shell shows it and keeps it in the part's log)."""
        print(f"[{self.name} {time.monotonic() - self.started:5.1f}s] {text}", flush=True)

    def add(self, *lines: str) -> None:
        """Append markdown lines to the section and write it out at once."""
        self.lines.extend(lines)
        self.write()

    def write(self) -> None:
        text = "\n".join([f"## {self.title}", "", *self.lines]).rstrip() + "\n\n"
        _atomic_write(self.out / f"{self.name}.md", text)
        _atomic_write(self.out / f"{self.name}.json", json.dumps(self.data, indent=1) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="folder for <part>.md/.json")
    parser.add_argument("--budget-s", type=float, required=True, help="this part's time budget")
    parser.add_argument("--cpu", action="store_true", help="dry run: CPU, tiny sizes, fakes")
    return parser.parse_args()


def run_part(main: Callable[[Part], None], part: Part) -> None:
    """Run `main`; an unexpected error still leaves the section, with the error in it."""
    part.write()
    # The shell's `timeout` ends an overrunning part with SIGTERM: exit through the `finally`
    # blocks, so samplers and the nvidia-smi child stop and what was measured is kept.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(124))
    if part.cpu:
        import torch

        # A dry run shares a small CPU with other work: one thread each keeps it steady.
        torch.set_num_threads(1)
    try:
        main(part)
    except Exception as exc:
        part.add("", f"**Stopped by an error:** `{type(exc).__name__}: {exc}`")
        part.say(f"error: {type(exc).__name__}: {exc}")
        raise
    part.say("done")


def why_not(module: str) -> str | None:
    """`None` if `module` imports, else the one-line reason (e.g. a missing dependency)."""
    try:
        __import__(module)
    except Exception as exc:  # ImportError, or a broken install raising something else
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure with `digits` significant digits, or `n/a`."""
    if value is None or value != value:  # None or NaN
        return "n/a"
    return f"{value:.{digits}g}"


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return value / reference


def sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- NVML, read directly (the package's backend reads the counter and the 1 s power) -------------


def import_pynvml() -> ModuleType | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def nvml_handle(nvml: ModuleType, torch_uuid: str | None) -> Any:
    """The NVML handle of the GPU that torch calls cuda:0, matched by UUID as the meter does
    (CUDA and NVML may number GPUs differently); NVML's device 0 when torch has no UUID to
    match (a dry run). `RuntimeError` when no NVML device has that UUID."""
    if not torch_uuid:
        return nvml.nvmlDeviceGetHandleByIndex(0)
    want = torch_uuid.lower().removeprefix("gpu-")
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        if text(nvml.nvmlDeviceGetUUID(handle)).lower().removeprefix("gpu-") == want:
            return handle
    raise RuntimeError(f"no NVML device has the UUID of cuda:0 ({torch_uuid})")


def torch_uuid(device: Any) -> str | None:
    import torch

    if device.type != "cuda":
        return None
    try:
        return str(torch.cuda.get_device_properties(device).uuid)
    except (AttributeError, RuntimeError):
        return None


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_FIELD_IDS = {"NVML_FI_DEV_POWER_AVERAGE": 185, "NVML_FI_DEV_POWER_INSTANT": 186}


def field_power_w(nvml: ModuleType, handle: Any, field: str) -> float | None:
    """Power in watts from NVML field `field` (`NVML_FI_DEV_POWER_INSTANT` or `..._AVERAGE`),
    or `None` where the driver or library does not have it.

    Since Ampere (except GA100), `nvmlDeviceGetPowerUsage` returns power averaged over one
    second; the instant field is the sensor's current reading.
    """
    # The ids are fixed in nvml.h; older pynvml releases lack the names, not the driver.
    field_id = getattr(nvml, field, _FIELD_IDS.get(field))
    if field_id is None:
        return None
    try:  # the package's reader, the one its meter uses for peak power
        from green_ai.energy._nvml import nvml_field_w
    except Exception:  # the Machine table says why green_ai.energy does not import
        return None
    return nvml_field_w(nvml, handle, field_id)


def build_nvml_meter(device: Any, *, counter: bool, interval_s: float, idle_s: float = 0.0) -> Any:
    """The package's NVML meter on the GPU that this process calls cuda:0."""
    from green_ai.energy import build_meter

    settings = {
        "backend": "nvml",
        "counter": counter,
        "interval_s": interval_s,
        "idle_s": idle_s,
        "settle_s": 0.0,
        "devices": [0],
    }
    return build_meter(settings, device)


def python_summary() -> str:
    return f"{sys.version.split()[0]} ({sys.executable})"
