"""The three networks of thesis §3.3.1, a registry to build them by name, and their counts."""

from green_ai.nets.counts import layer_counts
from green_ai.nets.dense import DenseLinearNN, DensePolyNN
from green_ai.nets.registry import build_net, list_nets, net_options
from green_ai.nets.simplecnn import HEAD_ACTIVATIONS, SimpleCNN, head_widths

__all__ = [
    "HEAD_ACTIVATIONS",
    "DenseLinearNN",
    "DensePolyNN",
    "SimpleCNN",
    "build_net",
    "head_widths",
    "layer_counts",
    "list_nets",
    "net_options",
]
