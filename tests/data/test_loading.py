"""Datasets: synthetic determinism and learnability; torchvision's real loaders on tiny files
written in their exact on-disk formats (tests/data/formats.py); a clear error when files are
missing; every preset in conf/dataset/ composes and agrees with the catalog."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from omegaconf import DictConfig, OmegaConf

import green_ai.config.energy  # noqa: F401  (registers the energy schema that presets compose)
from green_ai.data import CATALOG, dataset_shape, list_datasets, load_dataset, load_vision
from green_ai.data.synthetic import SHAPES
from green_ai.data.vision import takes_argument
from green_ai.errors import UserError
from green_ai.nets import build_net
from green_ai.training import train_repetition

from . import formats

CPU = torch.device("cpu")
CONF = Path(__file__).resolve().parents[2] / "conf" / "dataset"


def synthetic(shape: str = "fashion_mnist", seed: int = 0, n: int = 200) -> DictConfig:
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


def vision(name: str, root: Path, **settings: Any) -> DictConfig:
    """The settings of a torchvision dataset preset (conf/dataset/mnist.yaml's keys)."""
    base = {
        "name": name,
        "root": str(root),
        "download": False,
        "verify_checksums": True,
        "variant": None,
        "image_size": None,
        "train_samples": None,
        "test_samples": None,
    }
    return OmegaConf.create({**base, **settings})


def load(name: str, root: Path, **settings: Any) -> Any:
    """load_vision with the preset defaults: uint8 images, exactly as torchvision read them."""
    cfg = vision(name, root, **settings)
    kwargs = {k: v for k, v in cfg.items() if k not in ("name", "root")}
    return load_vision(name, root=root, **kwargs)


# -- synthetic ----------------------------------------------------------------------------


def test_synthetic_is_deterministic_per_seed() -> None:
    a = load_dataset(synthetic(seed=1), CPU)
    b = load_dataset(synthetic(seed=1), CPU)
    c = load_dataset(synthetic(seed=2), CPU)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [("fashion_mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)), ("stl10", (3, 96, 96))],
)
def test_synthetic_shapes(shape: str, expected: tuple[int, int, int]) -> None:
    data = load_dataset(synthetic(shape=shape), CPU)
    assert data.input_shape == expected == dataset_shape(synthetic(shape=shape))[0]
    assert data.train_x.shape == (200, *expected) and data.test_x.shape == (100, *expected)
    assert data.train_y.dtype == torch.int64 and int(data.train_y.max()) < 10
    # standardised with the training split's statistics
    assert abs(float(data.train_x.mean())) < 1e-4
    assert abs(float(data.train_x.std()) - 1.0) < 1e-2


def test_synthetic_takes_every_fixed_size_shape() -> None:
    assert SHAPES["usps"] == (1, 16, 16) and SHAPES["svhn"] == (3, 32, 32)
    assert "gtsrb" not in SHAPES  # its images vary in size
    with pytest.raises(UserError, match="dataset.shape='nope' is not known; use one of"):
        dataset_shape(synthetic(shape="nope"))


@pytest.mark.slow
def test_synthetic_is_learnable_well_above_chance() -> None:
    data = load_dataset(synthetic(n=4000), CPU)
    torch.manual_seed(0)
    model = build_net(
        "simplecnn", input_shape=data.input_shape, num_classes=10, conv=1, linear=2, relu=1
    )
    result = train_repetition(model, data, {"lr": 1e-3}, epochs=2, batch_size=64, seed=0)
    assert result.accuracy > 0.6  # chance is 0.1


# -- torchvision datasets read from their real formats ------------------------------------


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("kmnist", "KMNIST")])
def test_mnist_family_through_torchvision(tmp_path: Path, name: str, folder: str) -> None:
    train_x, train_y, test_x, test_y = formats.write_mnist_like(tmp_path / folder / "raw")
    splits = load(name, tmp_path)
    assert torch.equal(splits.train_x, torch.as_tensor(train_x))
    assert torch.equal(splits.test_x, torch.as_tensor(test_x))
    assert splits.train_y.tolist() == train_y.tolist() and splits.num_classes == 10


def test_fashion_mnist_on_the_device_standardised_and_limited(tmp_path: Path) -> None:
    train_x, train_y, _, _ = formats.write_mnist_like(tmp_path / "FashionMNIST" / "raw")
    data = load_dataset(vision("fashion_mnist", tmp_path, train_samples=10), CPU)
    assert data.input_shape == (1, 28, 28) == dataset_shape(vision("fashion_mnist", tmp_path))[0]
    assert data.train_x.shape[0] == 10 and data.test_x.shape[0] == 5
    assert data.train_y.tolist() == train_y[:10].tolist()
    assert data.num_classes == 10
    # the first image survives as written, up to the standardisation
    first = torch.as_tensor(train_x[0, 0], dtype=torch.float32) / 255
    restored = data.train_x[0, 0]
    corr = torch.corrcoef(torch.stack([first.flatten(), restored.flatten()]))[0, 1]
    assert corr > 0.999


def test_emnist_variant_is_its_split_argument(tmp_path: Path) -> None:
    raw = tmp_path / "EMNIST" / "raw"
    prefix = ("emnist-balanced-train", "emnist-balanced-test")
    train_x, _, _, _ = formats.write_mnist_like(raw, prefix=prefix)
    labels = np.array([0, 46, 3, 12, 45, 7, 1, 2, 3, 4, 5, 6])  # 47 classes
    formats.write_idx(raw / "emnist-balanced-train-labels-idx1-ubyte", labels)
    splits = load("emnist", tmp_path, variant="balanced")
    assert (
        splits.num_classes
        == 47
        == dataset_shape(vision("emnist", tmp_path, variant="balanced"))[1]
    )
    assert splits.train_y.tolist() == labels.tolist()
    assert torch.equal(splits.train_x, torch.as_tensor(train_x))
    with pytest.raises(UserError, match=r"dataset.variant=None: emnist needs one of byclass"):
        load("emnist", tmp_path)
    with pytest.raises(UserError, match="dataset.variant='balanced' applies to emnist only"):
        dataset_shape(vision("mnist", tmp_path, variant="balanced"))


def test_qmnist_keeps_the_class_of_its_eight_label_columns(tmp_path: Path) -> None:
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 6), ("test", 4)):
        formats.write_idx(raw / f"qmnist-{split}-images-idx3-ubyte", np.zeros((n, 28, 28)))
        columns = np.zeros((n, 8), dtype=np.int32)
        columns[:, 0] = np.arange(n) % 10
        columns[:, 1] = 99  # the writer id, not a class
        formats.write_idx(raw / f"qmnist-{split}-labels-idx2-int", columns, code=0x0C)
    splits = load("qmnist", tmp_path)
    assert splits.train_y.tolist() == [0, 1, 2, 3, 4, 5] and splits.test_y.tolist() == [0, 1, 2, 3]


def test_cifar100_through_torchvision_without_checksums(tmp_path: Path) -> None:
    train_x, train_y, test_x, test_y = formats.write_cifar100(tmp_path)
    splits = load("cifar100", tmp_path, verify_checksums=False)
    assert splits.num_classes == 100
    assert torch.equal(splits.train_x, torch.as_tensor(train_x))
    assert splits.train_y.tolist() == train_y.tolist()
    assert splits.test_y.tolist() == test_y.tolist()
    data = load_dataset(vision("CIFAR-100", tmp_path, verify_checksums=False), CPU)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 100
    assert data.train_x.shape[0] == 7 and data.test_x.shape[0] == 4


def test_cifar_checksums_reject_repacked_files(tmp_path: Path) -> None:
    formats.write_cifar100(tmp_path)
    with pytest.raises(UserError, match="cifar100 files not found or unreadable"):
        load_dataset(vision("cifar100", tmp_path), CPU)


def test_svhn_takes_split_and_maps_its_ten_to_zero(tmp_path: Path) -> None:
    train_x, train_y, test_x, test_y = formats.write_svhn(tmp_path)
    splits = load("svhn", tmp_path, verify_checksums=False)
    assert torch.equal(splits.train_x, torch.as_tensor(train_x))
    assert torch.equal(splits.test_x, torch.as_tensor(test_x))
    assert splits.train_y.tolist() == train_y.tolist() and 0 in splits.train_y.tolist()
    assert splits.test_y.tolist() == test_y.tolist()


def test_stl10_takes_split_and_image_size_shrinks_it(tmp_path: Path) -> None:
    train_x, train_y, test_x, test_y = formats.write_stl10(tmp_path)
    splits = load("stl10", tmp_path, verify_checksums=False)
    assert torch.equal(splits.train_x, torch.as_tensor(train_x))
    assert torch.equal(splits.test_x, torch.as_tensor(test_x))
    assert splits.train_y.tolist() == train_y.tolist()
    small = vision("stl10", tmp_path, verify_checksums=False, image_size=32)
    data = load_dataset(small, CPU)
    assert data.input_shape == (3, 32, 32) == dataset_shape(small)[0]


def test_images_of_varying_size_are_decoded_once_to_one_size(tmp_path: Path) -> None:
    sizes = [(30, 20), (41, 33), (25, 25), (60, 30), (32, 32), (28, 40)]
    labels = formats.write_gtsrb(tmp_path, sizes)
    with pytest.raises(UserError, match="gtsrb images vary in size: set dataset.image_size"):
        dataset_shape(vision("gtsrb", tmp_path))
    splits = load("gtsrb", tmp_path, image_size=16)
    assert splits.train_x.shape == (6, 3, 16, 16) and splits.train_x.dtype == torch.uint8
    assert splits.train_y.tolist() == labels
    assert splits.test_y.tolist() == [40, 41, 42] and splits.num_classes == 43
    # a limit spreads over the class-ordered folders instead of keeping the first class only
    spread = load("gtsrb", tmp_path, image_size=16, train_samples=3)
    assert spread.train_y.tolist() == [0, 1, 2]


def test_one_split_datasets_get_a_fixed_holdout_grey_images_in_colour(tmp_path: Path) -> None:
    modes = ["RGB", "L", "RGB", "RGB", "L", "RGB", "RGB", "L", "RGB", "RGB"]
    formats.write_caltech101(tmp_path, modes)
    a = load("caltech101", tmp_path, image_size=24)
    b = load("caltech101", tmp_path, image_size=24)
    assert a.train_x.shape == (8, 3, 24, 24) and a.test_x.shape == (2, 3, 24, 24)
    assert torch.equal(a.test_x, b.test_x) and torch.equal(a.train_y, b.train_y)
    # the held-out images are not among the training images
    train = {bytes(x.numpy()) for x in a.train_x}
    assert not any(bytes(x.numpy()) in train for x in a.test_x)


def test_labels_outside_the_classes_are_refused(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    formats.write_mnist_like(raw)
    formats.write_idx(raw / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 12]))
    with pytest.raises(UserError, match=r"mnist test labels run 0..12, outside the 10 classes"):
        load("mnist", tmp_path)


# -- names, presets, errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "shape", "classes"),
    [
        ("FashionMNIST", (1, 28, 28), 10),
        ("cifar-100", (3, 32, 32), 100),
        ("CIFAR100", (3, 32, 32), 100),
        ("SVHN", (3, 32, 32), 10),
        ("usps", (1, 16, 16), 10),
        ("OxfordIIITPet", None, 37),
    ],
)
def test_any_spelling_of_a_torchvision_name(
    tmp_path: Path, spelling: str, shape: tuple[int, int, int] | None, classes: int
) -> None:
    size = None if shape else 64
    expected = shape or (3, 64, 64)
    assert dataset_shape(vision(spelling, tmp_path, image_size=size)) == (expected, classes)


def test_unknown_dataset_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"dataset.name='coco'.*synthetic or one of .*cifar100"):
        dataset_shape(vision("coco", tmp_path))
    assert list_datasets()[:3] == ["synthetic", "mnist", "fashion_mnist"]


@pytest.mark.parametrize(
    ("name", "folder", "variant"),
    [
        ("fashion_mnist", "FashionMNIST/raw", None),
        ("mnist", "MNIST/raw", None),
        ("emnist", "EMNIST/raw", "letters"),
        ("cifar100", "cifar-100-python", None),
        ("svhn", "", None),
        ("stl10", "stl10_binary", None),
    ],
)
def test_missing_files_offline_say_what_to_do(
    tmp_path: Path, name: str, folder: str, variant: str | None
) -> None:
    with pytest.raises(UserError) as err:
        load_dataset(vision(name, tmp_path, variant=variant), CPU)
    message = str(err.value)
    assert "\n" not in message
    assert f"under {tmp_path / folder} (download is off" in message
    assert "dataset=synthetic" in message and "dataset.root" in message
    assert "dataset.download=true" in message


def test_a_class_that_cannot_download_does_not_suggest_it(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="torchvision cannot download FER2013") as err:
        load_dataset(vision("fer2013", tmp_path), CPU)
    assert "dataset.download" not in str(err.value)


def test_every_catalog_entry_names_a_torchvision_class_and_its_split_argument() -> None:
    from torchvision import datasets

    for name, spec in CATALOG.items():
        cls = getattr(datasets, spec.cls)
        train, split = takes_argument(cls, "train"), takes_argument(cls, "split")
        if spec.style == "train":
            assert train, name
        elif spec.style == "split":
            assert split and not train, name
        else:
            assert spec.style == "holdout" and not train and not split, name
        assert bool(spec.variants) == (name == "emnist")


@pytest.mark.parametrize("preset", sorted(p.stem for p in CONF.glob("*.yaml")))
def test_every_preset_composes_and_matches_the_catalog(
    make_cfg: Callable[..., DictConfig], preset: str
) -> None:
    cfg = make_cfg(f"dataset={preset}")
    shape, classes = dataset_shape(cfg.dataset)
    if preset != "synthetic":
        spec = CATALOG[preset]
        assert cfg.dataset.name == preset
        assert shape == (spec.channels, *spec.size)  # type: ignore[misc]
        assert classes == (47 if preset == "emnist" else spec.classes)


def test_dataset_name_override_reads_any_torchvision_dataset(
    make_cfg: Callable[..., DictConfig], tmp_path: Path
) -> None:
    formats.write_cifar100(tmp_path)
    cfg = make_cfg(
        "dataset=fashion_mnist",
        "dataset.name=cifar100",
        f"dataset.root={tmp_path}",
        "dataset.verify_checksums=false",
        "dataset.download=false",
    )
    data = load_dataset(cfg.dataset, CPU)
    assert data.name == "cifar100" and data.num_classes == 100
    assert data.input_shape == (3, 32, 32)
