"""The three networks of thesis §3.3.1, a registry to build them by name, a researcher's own
network by `_target_` (any torchvision classifier too), and their counts."""

from green_ai.nets.counts import layer_counts
from green_ai.nets.dense import DenseLinearNN, DensePolyNN
from green_ai.nets.registry import build_net, list_nets, net_options
from green_ai.nets.simplecnn import HEAD_ACTIVATIONS, SimpleCNN, head_widths
from green_ai.nets.target import (
    adapt_input_channels,
    build_target_net,
    check_target_net,
    probe_net,
    resolve_target,
)

__all__ = [
    "HEAD_ACTIVATIONS",
    "DenseLinearNN",
    "DensePolyNN",
    "SimpleCNN",
    "adapt_input_channels",
    "build_net",
    "build_target_net",
    "check_target_net",
    "head_widths",
    "layer_counts",
    "list_nets",
    "net_options",
    "probe_net",
    "resolve_target",
]
