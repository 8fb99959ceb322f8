"""Datasets loaded once into device tensors (SPEC "Data")."""

from green_ai.data.loading import DeviceData, load_dataset

__all__ = ["DeviceData", "load_dataset"]
