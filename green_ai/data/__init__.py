"""Datasets (SPEC "Data"): synthetic or any torchvision image-classification dataset by name,
loaded once into device tensors; or a researcher's own, built by the function that
`dataset._target_` names, kept on the device when it fits and streamed otherwise."""

from green_ai.data.loading import DeviceData, data_root, dataset_shape, list_datasets, load_dataset
from green_ai.data.streaming import StreamData
from green_ai.data.target import check_target_dataset, load_target_dataset, memory_budget
from green_ai.data.vision import CATALOG, Splits, load_vision, vision_shape

__all__ = [
    "CATALOG",
    "DeviceData",
    "Splits",
    "StreamData",
    "check_target_dataset",
    "data_root",
    "dataset_shape",
    "list_datasets",
    "load_dataset",
    "load_target_dataset",
    "load_vision",
    "memory_budget",
    "vision_shape",
]
