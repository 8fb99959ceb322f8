"""torchvision's image-classification datasets, read by torchvision's own classes.

The thesis's testbed trains "on all the visual problem datasets provided by PyTorch" (§3.3.2).
`CATALOG` says, for each, what green_ai needs before any file is read (image shape, classes)
and how the torchvision class is asked for a train and a test split:

- `train=True/False` (MNIST, CIFAR, USPS...), or `split=` with the dataset's own names (SVHN
  and STL10 `"train"/"test"`, OxfordIIITPet `"trainval"/"test"`, ImageNet `"train"/"val"`...);
  EMNIST takes `train=` and its variant as `split=` (`dataset.variant`);
- datasets that torchvision ships as one split (EuroSAT, Caltech, SUN397, SEMEION) get a
  fixed holdout: a fifth of the images, drawn once with seed 0, is the test split.

Datasets whose class keeps its images in one array (`layout`) are converted whole; the others
are decoded image by image, once, at load time — never in the training loop. Images vary in
size in most of the latter: `image_size` resizes every image (shorter side, then a centre
crop) to a square; it may shrink fixed-size datasets too.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import torch

from green_ai.config.checks import require_int
from green_ai.errors import UserError

# The share of a one-split dataset held out as its test split, and the seed that draws it:
# fixed, so every study on the dataset is scored on the same images.
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0


@dataclass(frozen=True)
class VisionSet:
    """How to read one torchvision image-classification dataset."""

    cls: str  # the class in torchvision.datasets
    classes: int
    channels: int
    size: tuple[int, int] | None  # (H, W) of every image; None: sizes vary
    files: str  # where the class looks under dataset.root ("" = the root itself)
    # "train": train=True/False; "split": split=splits[0]/splits[1]; "holdout": one split only.
    style: str = "train"
    splits: tuple[str, str] = ("train", "test")
    layout: str | None = None  # the array in `.data`: "nhw", "nhwc" or "nchw"; None: decode
    labels: str = "targets"  # the attribute holding the labels, when `layout` is set
    variants: dict[str, int] = field(default_factory=dict)  # EMNIST: variant -> classes


def _mnist_like(cls: str, **variants: int) -> VisionSet:
    """An MNIST-format dataset: 28×28 grey images in torchvision's `<root>/<cls>/raw`."""
    return VisionSet(cls, 10, 1, (28, 28), f"{cls}/raw", layout="nhw", variants=variants)


CATALOG: dict[str, VisionSet] = {
    "mnist": _mnist_like("MNIST"),
    "fashion_mnist": _mnist_like("FashionMNIST"),
    "kmnist": _mnist_like("KMNIST"),
    "qmnist": _mnist_like("QMNIST"),
    # torchvision's class lists: letters has an unused "N/A" class 0 (labels 1..26).
    "emnist": _mnist_like(
        "EMNIST", byclass=62, bymerge=47, balanced=47, letters=27, digits=10, mnist=10
    ),
    "cifar10": VisionSet("CIFAR10", 10, 3, (32, 32), "cifar-10-batches-py", layout="nhwc"),
    "cifar100": VisionSet("CIFAR100", 100, 3, (32, 32), "cifar-100-python", layout="nhwc"),
    "svhn": VisionSet("SVHN", 10, 3, (32, 32), "", "split", layout="nchw", labels="labels"),
    "stl10": VisionSet(
        "STL10", 10, 3, (96, 96), "stl10_binary", "split", layout="nchw", labels="labels"
    ),
    "usps": VisionSet("USPS", 10, 1, (16, 16), "", layout="nhw"),
    "semeion": VisionSet("SEMEION", 10, 1, (16, 16), "", "holdout", layout="nhw", labels="labels"),
    "gtsrb": VisionSet("GTSRB", 43, 3, None, "gtsrb", "split"),
    "fer2013": VisionSet("FER2013", 7, 1, (48, 48), "fer2013", "split"),
    "pcam": VisionSet("PCAM", 2, 3, (96, 96), "pcam", "split"),
    "eurosat": VisionSet("EuroSAT", 10, 3, (64, 64), "eurosat/2750", "holdout"),
    "flowers102": VisionSet("Flowers102", 102, 3, None, "flowers-102", "split"),
    "dtd": VisionSet("DTD", 47, 3, None, "dtd/dtd", "split"),
    "food101": VisionSet("Food101", 101, 3, None, "food-101", "split"),
    "country211": VisionSet("Country211", 211, 3, None, "country211", "split"),
    "stanford_cars": VisionSet("StanfordCars", 196, 3, None, "stanford_cars", "split"),
    "fgvc_aircraft": VisionSet(
        "FGVCAircraft", 100, 3, None, "fgvc-aircraft-2013b", "split", ("trainval", "test")
    ),
    "oxford_iiit_pet": VisionSet(
        "OxfordIIITPet", 37, 3, None, "oxford-iiit-pet", "split", ("trainval", "test")
    ),
    "rendered_sst2": VisionSet("RenderedSST2", 2, 3, None, "rendered-sst2", "split"),
    "caltech101": VisionSet("Caltech101", 101, 3, None, "caltech101", "holdout"),
    "caltech256": VisionSet("Caltech256", 257, 3, None, "caltech256", "holdout"),
    "sun397": VisionSet("SUN397", 397, 3, None, "SUN397", "holdout"),
    "imagenette": VisionSet("Imagenette", 10, 3, None, "imagenette2", "split", ("train", "val")),
    "imagenet": VisionSet("ImageNet", 1000, 3, None, "", "split", ("train", "val")),
    "places365": VisionSet("Places365", 365, 3, None, "", "split", ("train-standard", "val")),
}


@dataclass(frozen=True)
class Splits:
    """uint8 images (N, C, H, W) and int64 labels (N,) of both splits, on the CPU."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(name): name for name in CATALOG}


def canonical_name(name: str) -> str | None:
    """The catalog's name for `name`, in any case and spelling: "CIFAR-100" -> "cifar100"."""
    return _BY_KEY.get(_key(name))


def vision_set(name: str) -> tuple[str, VisionSet]:
    """The catalog entry for `name`; an unknown name is a UserError listing the known ones."""
    canonical = canonical_name(name)
    if canonical is None:
        raise UserError(
            f"dataset.name={name!r} is not a torchvision image-classification dataset that "
            f"green_ai knows; use synthetic or one of {', '.join(CATALOG)}"
        )
    return canonical, CATALOG[canonical]


def vision_shape(
    name: str, *, variant: str | None = None, image_size: int | None = None
) -> tuple[tuple[int, int, int], int]:
    """Input shape (C, H, W) and number of classes of dataset `name`, without reading files."""
    canonical, spec = vision_set(name)
    classes = _classes(canonical, spec, variant)
    if image_size is not None:
        require_int("dataset.image_size", image_size, minimum=1)
        return (spec.channels, image_size, image_size), classes
    if spec.size is None:
        raise UserError(
            f"{canonical} images vary in size: set dataset.image_size (e.g. 64) to resize "
            f"them all to that many pixels square"
        )
    return (spec.channels, *spec.size), classes


def load_vision(
    name: str,
    *,
    root: Path,
    download: bool,
    verify_checksums: bool = True,
    variant: str | None = None,
    image_size: int | None = None,
    train_samples: int | None = None,
    test_samples: int | None = None,
) -> Splits:
    """Read both splits of dataset `name` from `root` through its torchvision class.

    `train_samples`/`test_samples` keep that many images: the first ones of array datasets
    (stored shuffled), evenly spread ones of the others (often stored class by class). Missing
    or unreadable files are a one-line UserError that says where the files go.
    """
    canonical, spec = vision_set(name)
    (channels, _, _), classes = vision_shape(canonical, variant=variant, image_size=image_size)
    for key, limit in (("train_samples", train_samples), ("test_samples", test_samples)):
        if limit is not None:
            require_int(f"dataset.{key}", limit, minimum=1)
    files = root / spec.files if spec.files else root
    if spec.style == "holdout":
        dataset = _open(canonical, spec, root, files, download, verify_checksums, variant, None)
        test_idx, train_idx = _holdout(len(dataset))
        train = _read(dataset, spec, train_idx, train_samples, image_size, canonical)
        test = _read(dataset, spec, test_idx, test_samples, image_size, canonical)
    else:
        parts = []
        for which, limit in ((0, train_samples), (1, test_samples)):
            dataset = _open(
                canonical, spec, root, files, download, verify_checksums, variant, which
            )
            parts.append(_read(dataset, spec, None, limit, image_size, canonical))
        train, test = parts
    for split, (_, labels) in (("train", train), ("test", test)):
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= classes):
            raise UserError(
                f"{canonical} {split} labels run {int(labels.min())}..{int(labels.max())}, "
                f"outside the {classes} classes expected; are the files under {files} "
                f"{canonical}'s?"
            )
    # A split whose images all happen to be grey still gets the dataset's colour channels.
    return Splits(
        train_x=train[0].expand(-1, channels, -1, -1),
        train_y=train[1],
        test_x=test[0].expand(-1, channels, -1, -1),
        test_y=test[1],
        num_classes=classes,
    )


def _classes(canonical: str, spec: VisionSet, variant: str | None) -> int:
    if not spec.variants:
        if variant is not None:
            raise UserError(
                f"dataset.variant={variant!r} applies to emnist only; {canonical} has none "
                f"(set dataset.variant=null)"
            )
        return spec.classes
    if variant not in spec.variants:
        raise UserError(
            f"dataset.variant={variant!r}: {canonical} needs one of {', '.join(spec.variants)}"
        )
    return spec.variants[variant]


def _holdout(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Test and train indices of a one-split dataset of `n` images (see HOLDOUT_FRACTION)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    n_test = max(1, round(n * HOLDOUT_FRACTION)) if n > 1 else 0
    return order[:n_test].sort().values, order[n_test:].sort().values


def _open(
    canonical: str,
    spec: VisionSet,
    root: Path,
    files: Path,
    download: bool,
    verify_checksums: bool,
    variant: str | None,
    which: int | None,
) -> Any:
    """The torchvision dataset object of split `which` (0 train, 1 test, None: the only one)."""
    from torchvision import datasets

    cls = getattr(datasets, spec.cls)
    if not verify_checksums:
        cls = _without_checksums(cls)
    kwargs: dict[str, Any] = {}
    if spec.style == "train":
        kwargs["train"] = which == 0
    elif spec.style == "split":
        kwargs["split"] = spec.splits[which or 0]
    if variant is not None:
        kwargs["split"] = variant
    can_download = takes_argument(cls, "download")
    if can_download:
        kwargs["download"] = download
    try:
        return cls(str(root), **kwargs)
    except Exception as err:  # torchvision raises RuntimeError, URLError, OSError...
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if not can_download:
            fetch = f"torchvision cannot download {spec.cls}"
        else:
            fetch = "download failed" if download else "download is off"
        hint = (
            "set dataset.download=true on a machine with a network, "
            if can_download and not download
            else ""
        )
        raise UserError(
            f"{canonical} files not found or unreadable under {files} ({fetch}: {reason}). "
            f"Put the dataset files there (torchvision.datasets.{spec.cls} says which), point "
            f"dataset.root at a folder that has them, {hint}or use dataset=synthetic."
        ) from err


def takes_argument(cls: type, name: str) -> bool:
    """Whether `cls(...)` accepts keyword `name`, also through `**kwargs` passed to a base."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if name in params:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return False
    return False


def _without_checksums(cls: type) -> type:
    """`cls` without the md5 check of files already there, for re-packed copies.

    torchvision checks the md5 of existing files for CIFAR, SVHN, STL10 and SEMEION; their
    expected sums live in class attributes, which become None (= only check that the file
    exists) in a subclass. Other classes only check that their files exist.
    """
    attrs: dict[str, Any] = {}
    for attr in ("train_list", "test_list"):
        entries = getattr(cls, attr, None)
        if isinstance(entries, list):
            attrs[attr] = [[entry[0], None] for entry in entries]
    meta = getattr(cls, "meta", None)
    if isinstance(meta, dict) and "md5" in meta:
        attrs["meta"] = {**meta, "md5": None}
    split_list = getattr(cls, "split_list", None)
    if isinstance(split_list, dict):
        attrs["split_list"] = {k: [*v[:-1], None] for k, v in split_list.items()}
    if hasattr(cls, "md5_checksum"):
        attrs["md5_checksum"] = None
    return type(f"Unchecked{cls.__name__}", (cls,), attrs)


def _read(
    dataset: Any,
    spec: VisionSet,
    indices: torch.Tensor | None,
    limit: int | None,
    image_size: int | None,
    canonical: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, C, H, W) and int64 labels of `dataset` (at `indices`, up to `limit`)."""
    if spec.layout is not None:
        images, labels = _arrays(dataset, spec)
        if indices is not None:
            images, labels = images[indices], labels[indices]
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
    else:
        if indices is None:
            indices = torch.arange(len(dataset))
        if limit is not None and limit < len(indices):
            indices = indices[torch.linspace(0, len(indices) - 1, limit).round().long()]
        images, labels = _decode(dataset, indices.tolist(), image_size, canonical)
    if image_size is not None and tuple(images.shape[2:]) != (image_size, image_size):
        images = _square(images, image_size)
    return images.contiguous(), labels


def _arrays(dataset: Any, spec: VisionSet) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split from the class's own arrays: no per-image work."""
    data = torch.as_tensor(np.asarray(dataset.data))
    if spec.layout == "nhw":
        images = data.unsqueeze(1)
    elif spec.layout == "nhwc":
        images = data.permute(0, 3, 1, 2)
    else:
        images = data
    labels = torch.as_tensor(np.asarray(getattr(dataset, spec.labels)), dtype=torch.int64)
    if labels.ndim == 2:  # QMNIST keeps eight numbers per image; the first is the class
        labels = labels[:, 0]
    return images, labels


def _square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to `size` (antialiased), then crop the centre square."""
    from torchvision.transforms import functional as F

    images = F.resize(images, [size], antialias=True)
    return F.center_crop(images, [size, size])


def _decode(
    dataset: Any, indices: Sequence[int], image_size: int | None, canonical: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode images one by one (at load time only) into one uint8 tensor."""
    from PIL import Image
    from torchvision.transforms import functional as F

    images: list[torch.Tensor] = []
    labels: list[int] = []
    for i in indices:
        image, target = dataset[i]
        if not isinstance(target, Integral):
            raise UserError(
                f"{canonical} image {i} has target {target!r}, not a class number: this split "
                f"has no class labels in the files found"
            )
        if isinstance(image, Image.Image):
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            image = F.pil_to_tensor(image)
        if image_size is not None:
            image = _square(image, image_size)
        images.append(image)
        labels.append(int(target))
    if not images:
        raise UserError(f"{canonical}: no images found in this split")
    channels = max(int(t.shape[0]) for t in images)  # grey images among colour ones
    images = [t.expand(channels, -1, -1) for t in images]
    sizes = {tuple(t.shape[1:]) for t in images}
    if len(sizes) > 1:
        shown = ", ".join(f"{h}×{w}" for h, w in sorted(sizes)[:3])
        raise UserError(
            f"{canonical} images vary in size ({shown}, ...): set dataset.image_size (e.g. 64) "
            f"to resize them all to that many pixels square"
        )
    return torch.stack(images), torch.tensor(labels, dtype=torch.int64)
