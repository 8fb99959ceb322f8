"""Tiny dataset files in torchvision's real on-disk formats, for its real loaders to read.

Each writer returns the images as torchvision should hand them back (uint8, N×C×H×W) and the
labels as green_ai should see them (0-based), so tests can compare exactly.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

RNG = np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray, *, code: int = 0x08) -> None:
    """IDX: magic (0, 0, dtype code, ndim), big-endian sizes, then the values (big-endian)."""
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    body = array.astype(np.uint8 if code == 0x08 else ">i4").tobytes()
    path.write_bytes(header + body)


def write_mnist_like(
    raw: Path, *, prefix: tuple[str, str] = ("train", "t10k"), sizes: tuple[int, int] = (12, 5)
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four uncompressed IDX files of MNIST, FashionMNIST, KMNIST (and EMNIST's names)."""
    raw.mkdir(parents=True, exist_ok=True)
    out = []
    for split, n in zip(prefix, sizes, strict=True):
        images = RNG.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = np.arange(n) % 10
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        out += [images[:, None], labels]
    return out[0], out[1], out[2], out[3]


def write_cifar100(root: Path, *, n_train: int = 7, n_test: int = 4) -> tuple[np.ndarray, ...]:
    """cifar-100-python/{train,test,meta}: pickled dicts, rows of 3072 bytes (R, G, B planes)."""
    base = root / "cifar-100-python"
    base.mkdir(parents=True)
    out: list[np.ndarray] = []
    for name, n in (("train", n_train), ("test", n_test)):
        rows = RNG.integers(0, 256, (n, 3072)).astype(np.uint8)
        fine = (np.arange(n) * 37 + 5) % 100
        batch = {"data": rows, "fine_labels": fine.tolist(), "coarse_labels": (fine // 5).tolist()}
        (base / name).write_bytes(pickle.dumps(batch))
        out += [rows.reshape(n, 3, 32, 32), fine]
    meta = {"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": []}
    (base / "meta").write_bytes(pickle.dumps(meta))
    return tuple(out)


def write_svhn(root: Path, *, n_train: int = 6, n_test: int = 3) -> tuple[np.ndarray, ...]:
    """train_32x32.mat / test_32x32.mat: X is H×W×C×N, y is N×1 with the digit 0 as 10."""
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    out: list[np.ndarray] = []
    for name, n in (("train", n_train), ("test", n_test)):
        images = RNG.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
        digits = np.arange(n) % 10
        x = images.transpose(2, 3, 1, 0)  # N,C,H,W -> H,W,C,N
        savemat(
            root / f"{name}_32x32.mat", {"X": x, "y": np.where(digits == 0, 10, digits)[:, None]}
        )
        out += [images, digits]
    return tuple(out)


def write_stl10(root: Path, *, n_train: int = 4, n_test: int = 3) -> tuple[np.ndarray, ...]:
    """stl10_binary/*.bin: images column-major (N, C, W, H) bytes, labels 1..10 as bytes."""
    base = root / "stl10_binary"
    base.mkdir(parents=True)
    out: list[np.ndarray] = []
    for name, n in (("train", n_train), ("test", n_test)):
        images = RNG.integers(0, 256, (n, 3, 96, 96)).astype(np.uint8)
        labels = np.arange(n) % 10
        (base / f"{name}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
        (base / f"{name}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())
        out += [images, labels]
    (base / "unlabeled_X.bin").write_bytes(b"")  # checked for, never read by split=train
    return tuple(out)


def write_gtsrb(root: Path, sizes: list[tuple[int, int]]) -> list[int]:
    """gtsrb/GTSRB/Training/<class>/*.ppm and the test images with GT-final_test.csv."""
    base = root / "gtsrb"
    labels = []
    for i, (w, h) in enumerate(sizes):
        cls = i % 3
        folder = base / "GTSRB" / "Training" / f"{cls:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        image = RNG.integers(0, 256, (h, w, 3)).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:05d}.ppm")
        labels.append(cls)
    test = base / "GTSRB" / "Final_Test" / "Images"
    test.mkdir(parents=True)
    rows = ["Filename;Width;Height;ClassId"]
    for i in range(3):
        Image.fromarray(RNG.integers(0, 256, (20, 24, 3)).astype(np.uint8)).save(
            test / f"{i:05d}.ppm"
        )
        rows.append(f"{i:05d}.ppm;24;20;{40 + i}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return sorted(labels)  # the training folders are read class by class


def write_caltech101(root: Path, modes: list[str]) -> None:
    """caltech101/101_ObjectCategories/<category>/image_NNNN.jpg, grey and colour mixed."""
    base = root / "caltech101" / "101_ObjectCategories"
    (base / "BACKGROUND_Google").mkdir(parents=True)  # torchvision drops this folder
    for i, mode in enumerate(modes):
        folder = base / f"category{i % 2}"
        folder.mkdir(exist_ok=True)
        number = len(list(folder.iterdir())) + 1
        shape = (30 + i, 40) if mode == "L" else (30 + i, 40, 3)
        Image.fromarray(RNG.integers(0, 256, shape).astype(np.uint8), mode=mode).save(
            folder / f"image_{number:04d}.jpg"
        )
