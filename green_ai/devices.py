"""Which torch device to run on, and how to name it in tracked runs."""

from __future__ import annotations

import torch

from green_ai.errors import UserError


def resolve_device(device: str) -> torch.device:
    """`auto` is CUDA where there is a GPU, else the CPU; an unavailable device is a
    `UserError`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise UserError(
            f"device={device!r} is not a torch device (auto, cpu, cuda, cuda:1)"
        ) from exc
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device={device!r} but no CUDA GPU is visible; use device=auto or cpu")
    return chosen


def device_name(device: torch.device) -> str:
    """`cpu`, or the CUDA device with its product name (`cuda:0 NVIDIA H200`)."""
    if device.type == "cuda":
        return f"{device} {torch.cuda.get_device_name(device)}"
    return str(device)
