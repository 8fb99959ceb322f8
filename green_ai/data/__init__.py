"""Datasets loaded once into device tensors (SPEC "Data"): synthetic or any torchvision
image-classification dataset by name."""

from green_ai.data.loading import DeviceData, data_root, dataset_shape, list_datasets, load_dataset
from green_ai.data.vision import CATALOG, Splits, load_vision, vision_shape

__all__ = [
    "CATALOG",
    "DeviceData",
    "Splits",
    "data_root",
    "dataset_shape",
    "list_datasets",
    "load_dataset",
    "load_vision",
    "vision_shape",
]
