"""Datasets: synthetic determinism and learnability; the real torchvision loaders on tiny
files written in their exact on-disk formats; a clear error when files are missing."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from green_ai.data import load_dataset
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.training import train_repetition

CPU = torch.device("cpu")


def synthetic(shape: str = "fashion_mnist", seed: int = 0, n: int = 200) -> OmegaConf:
    return OmegaConf.create(
        {
            "name": "synthetic",
            "shape": shape,
            "num_classes": 10,
            "seed": seed,
            "train_samples": n,
            "test_samples": n // 2,
        }
    )


def test_synthetic_is_deterministic_per_seed() -> None:
    a = load_dataset(synthetic(seed=1), CPU)
    b = load_dataset(synthetic(seed=1), CPU)
    c = load_dataset(synthetic(seed=2), CPU)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)


@pytest.mark.parametrize(
    ("shape", "expected"), [("fashion_mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))]
)
def test_synthetic_shapes(shape: str, expected: tuple[int, int, int]) -> None:
    data = load_dataset(synthetic(shape=shape), CPU)
    assert data.input_shape == expected
    assert data.train_x.shape == (200, *expected) and data.test_x.shape == (100, *expected)
    assert data.train_y.dtype == torch.int64 and int(data.train_y.max()) < 10
    # standardised with the training split's statistics
    assert abs(float(data.train_x.mean())) < 1e-4
    assert abs(float(data.train_x.std()) - 1.0) < 1e-2


def test_synthetic_is_learnable_well_above_chance() -> None:
    data = load_dataset(synthetic(n=4000), CPU)
    torch.manual_seed(0)
    model = build_net(
        "simplecnn", input_shape=data.input_shape, num_classes=10, conv=1, linear=2, relu=1
    )
    result = train_repetition(model, data, {"lr": 1e-3}, epochs=2, batch_size=64, seed=0)
    assert result.accuracy > 0.6  # chance is 0.1


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian sizes, raw bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_through_torchvision(tmp_path: Path) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (12, 28, 28))
    train_labels = np.arange(12) % 10
    _write_idx(raw / "train-images-idx3-ubyte", train_images)
    _write_idx(raw / "train-labels-idx1-ubyte", train_labels)
    _write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (5, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(5))
    cfg = OmegaConf.create(
        {
            "name": "fashion_mnist",
            "root": str(tmp_path),
            "download": False,
            "train_samples": 10,
            "test_samples": None,
        }
    )
    data = load_dataset(cfg, CPU)
    assert data.input_shape == (1, 28, 28)
    assert data.train_x.shape[0] == 10 and data.test_x.shape[0] == 5
    assert data.train_y.tolist() == train_labels[:10].tolist()
    assert data.num_classes == 10
    # the first image survives as written, up to the standardisation
    first = torch.as_tensor(train_images[0], dtype=torch.float32) / 255
    restored = data.train_x[0, 0]
    corr = torch.corrcoef(torch.stack([first.flatten(), restored.flatten()]))[0, 1]
    assert corr > 0.999


def _write_cifar(root: Path) -> None:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        batch = {
            "data": rng.integers(0, 256, (3, 3072)).astype(np.uint8),
            "labels": [i % 10, (i + 1) % 10, (i + 2) % 10],
        }
        (base / name).write_bytes(pickle.dumps(batch))
    meta = {"label_names": [f"class{i}" for i in range(10)]}
    (base / "batches.meta").write_bytes(pickle.dumps(meta))


def test_cifar10_through_torchvision_without_checksums(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    cfg = OmegaConf.create(
        {
            "name": "cifar10",
            "root": str(tmp_path),
            "download": False,
            "verify_checksums": False,
            "train_samples": None,
            "test_samples": None,
        }
    )
    data = load_dataset(cfg, CPU)
    assert data.input_shape == (3, 32, 32)
    assert data.train_x.shape[0] == 15 and data.test_x.shape[0] == 3
    assert data.train_y[:3].tolist() == [0, 1, 2]
    assert data.test_y.tolist() == [5, 6, 7]


def test_cifar10_checksums_reject_repacked_files(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    cfg = OmegaConf.create(
        {"name": "cifar10", "root": str(tmp_path), "download": False, "verify_checksums": True}
    )
    with pytest.raises(UserError, match="cifar10 files not found or unreadable"):
        load_dataset(cfg, CPU)


def test_missing_files_offline_say_what_to_do(tmp_path: Path) -> None:
    cfg = OmegaConf.create({"name": "fashion_mnist", "root": str(tmp_path), "download": False})
    with pytest.raises(UserError) as err:
        load_dataset(cfg, CPU)
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "dataset=synthetic" in message and "dataset.root" in message
