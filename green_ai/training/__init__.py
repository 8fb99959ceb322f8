"""The training loop: Adam with every tuned value, epochs over device tensors, test accuracy."""

from green_ai.devices import resolve_device
from green_ai.training.loop import (
    DivergedError,
    EpochResult,
    RepetitionResult,
    configure_device,
    evaluate,
    make_optimizer,
    train_repetition,
)

__all__ = [
    "DivergedError",
    "EpochResult",
    "RepetitionResult",
    "configure_device",
    "evaluate",
    "make_optimizer",
    "resolve_device",
    "train_repetition",
]
