"""The three networks of thesis §3.3.1: shapes, widths, ReLUs, and layer-count limits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from green_ai.errors import UserError
from green_ai.nets import DenseLinearNN, DensePolyNN, SimpleCNN, build_net, list_nets

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)


def linear_widths(model: nn.Module) -> list[int]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [layers[0].in_features, *(m.out_features for m in layers)]


@pytest.mark.parametrize("name", list_nets())
@pytest.mark.parametrize("shape", [MNIST, CIFAR])
def test_every_net_maps_images_to_class_logits(name: str, shape: tuple[int, int, int]) -> None:
    model = build_net(name, input_shape=shape, num_classes=10, conv=2, linear=3, relu=1)
    assert model(torch.zeros(4, *shape)).shape == (4, 10)


def test_denselinear_widths_shrink_linearly_with_relu_between() -> None:
    model = DenseLinearNN(input_shape=MNIST, num_classes=10, linear=3)
    assert linear_widths(model) == [784, 526, 268, 10]
    kinds = [type(m) for m in model.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]


def test_densepoly_widths_halve() -> None:
    model = DensePolyNN(input_shape=MNIST, num_classes=10, linear=4)
    assert linear_widths(model) == [784, 392, 196, 98, 10]
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 3


def test_simplecnn_blocks_and_relu_switch() -> None:
    on = SimpleCNN(input_shape=MNIST, num_classes=10, conv=4, linear=7, relu=1)
    off = SimpleCNN(input_shape=MNIST, num_classes=10, conv=4, linear=7, relu=0)
    block_kinds = [type(m) for m in on.features][:4]
    assert block_kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert sum(isinstance(m, nn.ReLU) for m in on.features) == 4
    assert sum(isinstance(m, nn.ReLU) for m in off.features) == 0
    assert sum(isinstance(m, nn.Conv2d) for m in off.features) == 4
    # the head: 7 linear layers halving from 512, ReLU between them in both variants
    assert linear_widths(off) == [256, 512, 256, 128, 64, 32, 16, 10]
    assert sum(isinstance(m, nn.ReLU) for m in off.head) == 6


@pytest.mark.parametrize(("shape", "limit"), [(MNIST, 4), (CIFAR, 5)])
def test_simplecnn_conv_limit_is_named(shape: tuple[int, int, int], limit: int) -> None:
    SimpleCNN(input_shape=shape, num_classes=10, conv=limit, linear=1, relu=1)
    with pytest.raises(UserError, match=f"at most {limit} fit. Use conv=0..{limit}"):
        SimpleCNN(input_shape=shape, num_classes=10, conv=limit + 1, linear=1, relu=1)


def test_linear_limits_are_named() -> None:
    with pytest.raises(UserError, match=r"linear=8 is too many.*Use linear=1..7"):
        DensePolyNN(input_shape=MNIST, num_classes=10, linear=8)
    with pytest.raises(UserError, match=r"linear=8 is too many.*Use linear=1..7"):
        SimpleCNN(input_shape=MNIST, num_classes=10, conv=1, linear=8, relu=1)


@pytest.mark.parametrize("bad", [-1, 0])
def test_bad_counts_are_user_errors(bad: int) -> None:
    with pytest.raises(UserError, match="linear"):
        build_net("denselinear", input_shape=MNIST, num_classes=10, conv=0, linear=bad, relu=0)


def test_unknown_net_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="denselinear, densepoly, simplecnn"):
        build_net("nope", input_shape=MNIST, num_classes=10, conv=1, linear=1, relu=1)
