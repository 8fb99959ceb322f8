"""What the energy timeline needs to know about torchvision classifiers (thesis §4.3.2).

Publication years order the timeline (Fig. 4.3); ImageNet top-1 accuracy comes from the
metadata that torchvision's weight enums carry, so nothing is downloaded.
"""

from __future__ import annotations

import math

# Year of the first paper of each family (arXiv), longest prefix wins: "efficientnet_v2"
# before "efficientnet".
PUBLICATION_YEAR = {
    "alexnet": 2012,
    "vgg": 2014,
    "googlenet": 2014,
    "resnet": 2015,
    "inception_v3": 2015,
    "squeezenet": 2016,
    "densenet": 2016,
    "resnext": 2016,
    "wide_resnet": 2016,
    "mobilenet_v2": 2018,
    "shufflenet_v2": 2018,
    "mnasnet": 2018,
    "mobilenet_v3": 2019,
    "efficientnet": 2019,
    "regnet": 2020,
    "vit": 2020,
    "swin": 2021,
    "efficientnet_v2": 2021,
    "convnext": 2022,
    "maxvit": 2022,
}


def publication_year(model: str) -> int | None:
    """Year the model's family was published, or None for a model not in the table."""
    name = model.lower()
    matches = [p for p in PUBLICATION_YEAR if name.startswith(p)]
    return PUBLICATION_YEAR[max(matches, key=len)] if matches else None


def publication_order(models: list[str]) -> list[str]:
    """Oldest first (thesis Fig. 4.3); unknown models last, alphabetically."""

    def key(m: str) -> tuple[int, str]:
        year = publication_year(m)
        return (year if year is not None else 10_000, m)

    return sorted(models, key=key)


def imagenet_top1(model: str) -> float:
    """Top-1 ImageNet-1K accuracy (%) of the model's default torchvision weights; NaN if none."""
    try:
        from torchvision.models import get_model_weights

        meta = get_model_weights(model).DEFAULT.meta
        return float(meta["_metrics"]["ImageNet-1K"]["acc@1"])
    except (ValueError, KeyError, AttributeError, ImportError, RuntimeError):
        return math.nan
