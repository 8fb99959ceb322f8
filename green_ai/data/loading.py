"""Load a dataset into tensors that already live on the training device.

The training loop indexes these tensors directly: no DataLoader worker, no per-sample PIL
transform in the hot loop (SPEC "Data"; the thesis testbed spent its time there, §3.6.3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from green_ai.data.synthetic import SHAPES, make_synthetic
from green_ai.data.vision import CATALOG, load_vision, vision_shape
from green_ai.errors import UserError
from green_ai.paths import launch_dir

if TYPE_CHECKING:  # typed settings without importing OmegaConf at run time
    from green_ai.config.train import DatasetConfig

SYNTHETIC = "synthetic"


@dataclass(frozen=True)
class DeviceData:
    """Inputs (N, ...) float32 and labels (N,) int64, on one device.

    The thesis's datasets are standardised images (N, C, H, W); a user's dataset
    (`green_ai.data.target`) is kept as its callable returned it.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of an image dataset; `sample_shape` for inputs of any rank."""
        c, h, w = self.train_x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input, whatever its rank."""
        return tuple(int(d) for d in self.train_x.shape[1:])

    @property
    def train_size(self) -> int:
        return len(self.train_x)

    @property
    def test_size(self) -> int:
        return len(self.test_x)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def train_batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch in an order drawn from `generator` (on the data's device).

        One gather per epoch, then each batch is a view: a per-batch gather costs two extra
        kernel launches per step, which is what bounds a small net on a GPU.
        """
        order = torch.randperm(self.train_size, device=self.device, generator=generator)
        xs, ys = self.train_x[order], self.train_y[order]
        for start in range(0, self.train_size, batch_size):
            yield xs[start : start + batch_size], ys[start : start + batch_size]

    def test_batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The test split in order, as views."""
        for start in range(0, self.test_size, batch_size):
            yield self.test_x[start : start + batch_size], self.test_y[start : start + batch_size]


def list_datasets() -> list[str]:
    """Every `dataset.name` accepted: synthetic and torchvision's image-classification sets."""
    return [SYNTHETIC, *CATALOG]


def dataset_shape(cfg: DatasetConfig) -> tuple[tuple[int, int, int], int]:
    """Input shape and number of classes of the configured dataset, without loading it.

    `cfg` is the `dataset` settings (`conf/dataset/*.yaml`), read by attribute.
    """
    if cfg.name == SYNTHETIC:
        if cfg.shape not in SHAPES:
            raise UserError(
                f"dataset.shape={cfg.shape!r} is not known; use one of {', '.join(SHAPES)}"
            )
        return SHAPES[cfg.shape], cfg.num_classes
    return vision_shape(cfg.name, variant=cfg.variant, image_size=cfg.image_size)


def load_dataset(cfg: DatasetConfig, device: torch.device, *, seed: int = 0) -> DeviceData:
    """Build the configured dataset (`conf/dataset/*.yaml`) on `device`.

    A synthetic dataset without its own seed takes `seed`. Any other name is a torchvision
    image-classification dataset (`green_ai.data.vision`), read from `cfg.root`.
    """
    if cfg.name == SYNTHETIC:
        train_x, train_y, test_x, test_y = make_synthetic(
            shape=cfg.shape,
            num_classes=cfg.num_classes,
            train_samples=cfg.train_samples or 60000,
            test_samples=cfg.test_samples or 10000,
            seed=seed if cfg.seed is None else cfg.seed,
        )
        num_classes = cfg.num_classes
    else:
        splits = load_vision(
            cfg.name,
            root=data_root(cfg.root),
            download=cfg.download,
            verify_checksums=cfg.verify_checksums,
            variant=cfg.variant,
            image_size=cfg.image_size,
            train_samples=cfg.train_samples,
            test_samples=cfg.test_samples,
        )
        train_x, test_x = splits.train_x.float().div_(255.0), splits.test_x.float().div_(255.0)
        train_y, test_y, num_classes = splits.train_y, splits.test_y, splits.num_classes
    # Standardise per channel with statistics of the training split only.
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return DeviceData(
        name=cfg.name,
        train_x=((train_x - mean) / std).to(device).contiguous(),
        train_y=train_y.to(device),
        test_x=((test_x - mean) / std).to(device).contiguous(),
        test_y=test_y.to(device),
        num_classes=num_classes,
    )


def data_root(root: str | Path) -> Path:
    """`dataset.root` as a path: `~` expanded, a relative one taken from the launch directory."""
    path = Path(str(root)).expanduser()
    return path if path.is_absolute() else Path(launch_dir()) / path


__all__ = ["DeviceData", "dataset_shape", "data_root", "list_datasets", "load_dataset"]
