"""The three networks of thesis §3.3.1 and a registry to build them by name."""

from green_ai.nets.dense import DenseLinearNN, DensePolyNN
from green_ai.nets.registry import build_net, list_nets
from green_ai.nets.simplecnn import SimpleCNN

__all__ = ["DenseLinearNN", "DensePolyNN", "SimpleCNN", "build_net", "list_nets"]
