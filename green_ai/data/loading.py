"""Load a dataset into tensors that already live on the training device.

The training loop indexes these tensors directly: no DataLoader worker, no per-sample PIL
transform in the hot loop (SPEC "Data"; the thesis testbed spent its time there, §3.6.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from green_ai.data.synthetic import SHAPES, make_synthetic
from green_ai.errors import UserError
from green_ai.paths import launch_dir


@dataclass(frozen=True)
class DeviceData:
    """Normalised images (N, C, H, W) float32 and labels (N,) int64, on one device."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)


def dataset_shape(cfg: DictConfig) -> tuple[tuple[int, int, int], int]:
    """Input shape and number of classes of the configured dataset, without loading it."""
    name = str(cfg.name)
    if name == "synthetic":
        if str(cfg.shape) not in SHAPES:
            raise UserError(
                f"dataset.shape={cfg.shape!r} is not known; use one of {sorted(SHAPES)}"
            )
        return SHAPES[str(cfg.shape)], int(cfg.num_classes)
    if name in SHAPES:
        return SHAPES[name], 10
    raise UserError(
        f"dataset.name={name!r} is not known; use dataset=fashion_mnist, cifar10 or synthetic"
    )


def load_dataset(cfg: DictConfig, device: torch.device, *, seed: int = 0) -> DeviceData:
    """Build the configured dataset (`conf/dataset/*.yaml`) on `device`."""
    name = str(cfg.name)
    if name == "synthetic":
        train_x, train_y, test_x, test_y = make_synthetic(
            shape=str(cfg.shape),
            num_classes=int(cfg.num_classes),
            train_samples=int(cfg.train_samples or 60000),
            test_samples=int(cfg.test_samples or 10000),
            seed=int(cfg.get("seed") if cfg.get("seed") is not None else seed),
        )
        num_classes = int(cfg.num_classes)
    elif name in ("fashion_mnist", "cifar10"):
        train_x, train_y, num_classes = _torchvision_arrays(cfg, train=True)
        test_x, test_y, _ = _torchvision_arrays(cfg, train=False)
        train_x, train_y = _limit(train_x, train_y, cfg.get("train_samples"))
        test_x, test_y = _limit(test_x, test_y, cfg.get("test_samples"))
    else:
        raise UserError(
            f"dataset.name={name!r} is not known; use dataset=fashion_mnist, cifar10 or synthetic"
        )
    # Standardise per channel with statistics of the training split only.
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return DeviceData(
        name=name,
        train_x=((train_x - mean) / std).to(device).contiguous(),
        train_y=train_y.to(device),
        test_x=((test_x - mean) / std).to(device).contiguous(),
        test_y=test_y.to(device),
        num_classes=num_classes,
    )


def _limit(x: torch.Tensor, y: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    if n is None:
        return x, y
    if int(n) < 1:
        raise UserError(f"dataset sample limit {n} must be at least 1 (or null for all)")
    return x[: int(n)], y[: int(n)]


def _torchvision_arrays(cfg: DictConfig, *, train: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Read a split through torchvision's own dataset class; uint8 -> float in [0, 1]."""
    dataset = _open_torchvision(cfg, train=train)
    data: Any = dataset.data  # uint8: (N, 28, 28) tensor or (N, 32, 32, 3) ndarray
    images = torch.as_tensor(np.asarray(data))
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    return images.float().div_(255.0), labels, len(dataset.classes)


def _open_torchvision(cfg: DictConfig, *, train: bool) -> Any:
    from torchvision import datasets

    root = Path(str(cfg.root)).expanduser()
    if not root.is_absolute():
        root = Path(launch_dir()) / root
    name = str(cfg.name)
    cls: Any
    if name == "fashion_mnist":
        cls, files = datasets.FashionMNIST, root / "FashionMNIST" / "raw"
    else:
        cls = datasets.CIFAR10 if cfg.get("verify_checksums", True) else _unchecked_cifar10()
        files = root / "cifar-10-batches-py"
    try:
        return cls(str(root), train=train, download=bool(cfg.download))
    except Exception as err:  # torchvision raises RuntimeError, URLError, OSError...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        fetch = "download failed" if cfg.download else "download is off"
        raise UserError(
            f"{name} files not found or unreadable under {files} ({fetch}: {reason}). "
            f"Put the dataset files there, point dataset.root at a folder that has them, "
            f"set dataset.download=true on a machine with a network, or use dataset=synthetic."
        ) from err


def _unchecked_cifar10() -> type:
    """CIFAR-10 without the md5 check, for re-packed copies (`verify_checksums: false`)."""
    from torchvision import datasets

    base = datasets.CIFAR10
    return type(
        "UncheckedCIFAR10",
        (base,),
        {
            "train_list": [[name, None] for name, _ in base.train_list],
            "test_list": [[name, None] for name, _ in base.test_list],
            "meta": {**base.meta, "md5": None},
        },
    )


__all__ = ["SHAPES", "DeviceData", "load_dataset"]
