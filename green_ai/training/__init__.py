"""The training loop: Adam with every tuned value, epochs over device tensors, test accuracy;
and the warm-up that runs before anything is measured."""

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
from green_ai.training.warmup import warm_up

__all__ = [
    "DivergedError",
    "EpochResult",
    "RepetitionResult",
    "configure_device",
    "evaluate",
    "make_optimizer",
    "resolve_device",
    "train_repetition",
    "warm_up",
]
