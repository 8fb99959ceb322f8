"""A deterministic, learnable dataset that needs no files.

Each class has a smooth random template; an image is its class template under a random
contrast plus strong pixel noise. Small networks learn it well above chance within an
epoch, yet not perfectly, so accuracy still tells hyperparameters apart.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from green_ai.errors import UserError

# The shapes of the thesis's datasets (§3.2.1): channels, height, width.
SHAPES: dict[str, tuple[int, int, int]] = {"fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def make_synthetic(
    *, shape: str, num_classes: int, train_samples: int, test_samples: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return train images, train labels, test images, test labels (CPU tensors)."""
    if shape not in SHAPES:
        raise UserError(f"dataset.shape={shape!r} is not known; use one of {sorted(SHAPES)}")
    if num_classes < 2:
        raise UserError(f"dataset.num_classes={num_classes} must be at least 2")
    c, h, w = SHAPES[shape]
    gen = torch.Generator().manual_seed(seed)
    # Low-frequency templates: a coarse random grid upsampled to full size.
    coarse = torch.randn(num_classes, c, 7, 7, generator=gen)
    templates = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    templates = templates / templates.flatten(1).std(dim=1).view(-1, 1, 1, 1)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(num_classes, (n,), generator=gen)
        contrast = 0.5 + torch.rand(n, 1, 1, 1, generator=gen)
        images = templates[labels] * contrast
        images = images + 1.5 * torch.randn(n, c, h, w, generator=gen)
        return images.float(), labels

    train_x, train_y = split(train_samples)
    test_x, test_y = split(test_samples)
    return train_x, train_y, test_x, test_y
