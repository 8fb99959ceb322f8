"""GPU check, part 1: what machine, drivers and packages the figures come from.

Also says which sensors this GPU offers, since the energy part depends on them: the hardware
energy counter (Volta and later), the one-second average that `nvmlDeviceGetPowerUsage`
returns on Ampere and later, and the instant power field of recent drivers.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess

from _common import (
    Part,
    field_power_w,
    import_pynvml,
    nvml_handle,
    parse_args,
    python_summary,
    run_part,
    text,
    torch_uuid,
    why_not,
)

# Distribution -> module. The check needs the first group; the others only matter for the
# parts that say so in their sections.
PACKAGES = {
    "torch": "torch",
    "torchvision": "torchvision",
    "nvidia-ml-py": "pynvml",
    "numpy": "numpy",
    "pillow": "PIL",
    "omegaconf": "omegaconf",
    "hydra-core": "hydra",
    "pytest": "pytest",
    "optuna": "optuna",
    "mlflow": "mlflow",
    "pandas": "pandas",
    "scipy": "scipy",
    "botorch": "botorch",
    "gpytorch": "gpytorch",
}


def versions() -> list[tuple[str, str]]:
    """Installed versions (from metadata: importing mlflow or botorch only to ask costs
    seconds), then whether the package's modules that the parts use import here."""
    rows = []
    for dist, module in PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            rows.append((dist, "missing"))
            continue
        try:
            rows.append((dist, importlib.metadata.version(dist)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((dist, "present (no metadata)"))
    for module in ("green_ai.energy", "green_ai.training", "green_ai.inference"):
        rows.append((f"import {module}", why_not(module) or "ok"))
    return rows


def gpu_rows(part: Part) -> list[tuple[str, str]]:
    import torch

    device = torch.device("cpu" if part.cpu else "cuda:0")
    rows = [("torch CUDA / cuDNN", f"{torch.version.cuda} / {torch.backends.cudnn.version()}")]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        rows += [
            ("GPU (torch cuda:0)", f"{props.name}, {props.total_memory / 2**30:.0f} GiB"),
            ("compute capability", f"{props.major}.{props.minor}"),
            ("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)")),
        ]
    nvml = import_pynvml()
    if nvml is None:
        return [*rows, ("NVML", "pynvml missing: no NVML figures")]
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return [*rows, ("NVML", f"not available ({exc})")]
    try:
        handle = nvml_handle(nvml, torch_uuid(device))
        rows.append(("NVML device", text(nvml.nvmlDeviceGetName(handle))))
        rows.append(("driver", text(nvml.nvmlSystemGetDriverVersion())))
        for label, call, scale in (
            ("power limit (enforced)", "nvmlDeviceGetEnforcedPowerLimit", 1000),
            ("energy counter (mJ since driver load)", "nvmlDeviceGetTotalEnergyConsumption", 1),
            ("nvmlDeviceGetPowerUsage now", "nvmlDeviceGetPowerUsage", 1000),
        ):
            try:
                value = getattr(nvml, call)(handle) / scale
                unit = " W" if scale == 1000 else ""
                rows.append((label, f"{value:g}{unit}"))
            except (nvml.NVMLError, AttributeError) as exc:
                rows.append((label, f"not supported ({exc})"))
        for label, field in (
            ("instant power field now", "NVML_FI_DEV_POWER_INSTANT"),
            ("average power field now", "NVML_FI_DEV_POWER_AVERAGE"),
        ):
            watts = field_power_w(nvml, handle, field)
            rows.append((label, "not supported" if watts is None else f"{watts:g} W"))
    except (nvml.NVMLError, RuntimeError) as exc:
        rows.append(("NVML", f"failed ({type(exc).__name__}: {exc})"))
    finally:
        nvml.nvmlShutdown()
    return rows


def main(part: Part) -> None:
    import torch

    rows = [
        ("mode", "DRY RUN on the CPU (fake NVML, fake nvidia-smi)" if part.cpu else "GPU"),
        ("python", python_summary()),
        ("torch threads / CPU cores", f"{torch.get_num_threads()} / {os.cpu_count()}"),
    ]
    part.say("GPU and sensors")
    rows += gpu_rows(part)
    smi = os.environ.get("GPU_CHECK_NVIDIA_SMI", "nvidia-smi")
    if part.cpu or shutil.which(smi.split()[0]):
        try:
            out = subprocess.run(
                [*smi.split(), "--query-gpu=driver_version,name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            rows.append(("nvidia-smi", (out.stdout or out.stderr).strip().splitlines()[0]))
        except (OSError, subprocess.SubprocessError, IndexError) as exc:
            rows.append(("nvidia-smi", f"failed ({type(exc).__name__}: {exc})"))
    else:
        rows.append(("nvidia-smi", "not on PATH"))
    part.say("packages")
    rows += versions()
    installed = os.environ.get("GPU_CHECK_INSTALLED", "").strip()
    missing = os.environ.get("GPU_CHECK_MISSING", "").strip()
    rows.append(("installed for this check (private folder)", installed or "nothing"))
    rows.append(("still missing for the check", missing or "nothing"))
    part.data = dict(rows)
    part.add("| what | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows))


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    run_part(main, Part("env", "Machine", args.out, args.budget_s, args.cpu))
