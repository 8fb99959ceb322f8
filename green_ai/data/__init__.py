"""Datasets loaded once into device tensors (SPEC "Data")."""

from green_ai.data.loading import DeviceData, dataset_shape, load_dataset

__all__ = ["DeviceData", "dataset_shape", "load_dataset"]
