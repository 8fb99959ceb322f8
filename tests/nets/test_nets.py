"""The three networks of thesis §3.3.1: shapes, widths, ReLUs, layer-count limits, counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from green_ai.errors import UserError
from green_ai.nets import (
    DenseLinearNN,
    DensePolyNN,
    SimpleCNN,
    build_net,
    head_widths,
    layer_counts,
    list_nets,
)

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)
# Table 3.2: linear layers, convolutional layers, relu factor, ReLU layers.
TABLE_3_2 = [
    (3, 1, 0, 0),
    (3, 1, 1, 1),
    (3, 4, 0, 0),
    (3, 4, 1, 4),
    (7, 1, 0, 0),
    (7, 1, 1, 1),
    (7, 4, 0, 0),
    (7, 4, 1, 4),
]


def linear_widths(model: nn.Module) -> list[int]:
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [layers[0].in_features, *(m.out_features for m in layers)]


def count(model: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


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
    assert count(model, nn.ReLU) == 3


@pytest.mark.parametrize("shape", [MNIST, CIFAR])
@pytest.mark.parametrize(("linear", "conv", "relu", "relus"), TABLE_3_2)
def test_table_3_2_counts_exactly(
    shape: tuple[int, int, int], linear: int, conv: int, relu: int, relus: int
) -> None:
    model = SimpleCNN(input_shape=shape, num_classes=10, conv=conv, linear=linear, relu=relu)
    assert count(model, nn.ReLU) == relus
    assert count(model, nn.Linear) == linear
    assert count(model, nn.Conv2d) == conv
    assert layer_counts(model) == {
        "conv_layers": conv,
        "linear_layers": linear,
        "relu_layers": relus,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def test_conv_blocks_keep_their_order() -> None:
    on = SimpleCNN(input_shape=MNIST, num_classes=10, conv=4, linear=7, relu=1)
    off = SimpleCNN(input_shape=MNIST, num_classes=10, conv=4, linear=7, relu=0)
    assert [type(m) for m in on.features][:4] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert [type(m) for m in off.features][:3] == [nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d]
    assert [type(m) for m in off.head] == [nn.Linear] * 7


@pytest.mark.parametrize(
    ("shape", "conv", "linear", "widths"),
    [
        # conv=1 on 28×28 flattens to 32×14×14 = 6272; halving would start at 3136: capped.
        (MNIST, 1, 3, [6272, 128, 64, 10]),
        # conv=4 flattens to 256×1×1 and halves to 128 by itself: the same head.
        (MNIST, 4, 3, [256, 128, 64, 10]),
        # seven layers stop halving at the classes
        (MNIST, 4, 7, [256, 128, 64, 32, 16, 10, 10, 10]),
        (MNIST, 1, 7, [6272, 128, 64, 32, 16, 10, 10, 10]),
        (CIFAR, 1, 3, [8192, 128, 64, 10]),
        (CIFAR, 4, 3, [1024, 128, 64, 10]),
    ],
)
def test_head_halves_from_the_flattened_output_up_to_the_cap(
    shape: tuple[int, int, int], conv: int, linear: int, widths: list[int]
) -> None:
    model = SimpleCNN(input_shape=shape, num_classes=10, conv=conv, linear=linear, relu=1)
    assert linear_widths(model) == widths


def test_head_widths_halve_from_the_features_below_the_cap() -> None:
    assert head_widths(200, 3, 10, max_width=128) == [100, 50, 10]
    assert head_widths(6272, 3, 10, max_width=None) == [3136, 1568, 10]  # §3.3.1 literally
    assert head_widths(6272, 1, 10, max_width=128) == [10]
    model = SimpleCNN(
        input_shape=MNIST, num_classes=10, conv=4, linear=3, relu=1, channels=4
    )  # 32×1×1 features
    assert linear_widths(model) == [32, 16, 10, 10]


@pytest.mark.parametrize("shape", [MNIST, CIFAR])
@pytest.mark.parametrize("linear", [3, 7])
@pytest.mark.parametrize("relu", [0, 1])
def test_one_conv_block_is_not_a_much_bigger_net(
    shape: tuple[int, int, int], linear: int, relu: int
) -> None:
    def parameters(conv: int) -> int:
        model = SimpleCNN(input_shape=shape, num_classes=10, conv=conv, linear=linear, relu=relu)
        return layer_counts(model)["parameters"]

    # Halving from 512 fixed units gave conv=1 about 5x the parameters of conv=4 (issue 10).
    assert parameters(1) < 2.5 * parameters(4)


def test_uncapped_head_is_the_literal_halving() -> None:
    model = SimpleCNN(input_shape=MNIST, num_classes=10, conv=1, linear=3, relu=1, max_width=None)
    assert linear_widths(model) == [6272, 3136, 1568, 10]
    with pytest.raises(UserError, match=r"^net.options.max_width=0 must be an integer of at"):
        SimpleCNN(input_shape=MNIST, num_classes=10, conv=1, linear=3, relu=1, max_width=0)


@pytest.mark.parametrize("relu", [0, 1])
def test_head_activation_relu_adds_one_per_hidden_layer(relu: int) -> None:
    model = SimpleCNN(
        input_shape=MNIST, num_classes=10, conv=4, linear=3, relu=relu, head_activation="relu"
    )
    assert count(model.head, nn.ReLU) == 2
    assert layer_counts(model)["relu_layers"] == 2 + 4 * relu
    assert [type(m) for m in model.head] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]


def test_bad_head_activation_is_a_user_error() -> None:
    with pytest.raises(
        UserError, match="^net.options.head_activation='gelu' is not one of none, relu$"
    ):
        SimpleCNN(
            input_shape=MNIST, num_classes=10, conv=1, linear=3, relu=1, head_activation="gelu"
        )


def test_options_reach_the_net_and_unknown_ones_are_named() -> None:
    model = build_net(
        "simplecnn",
        input_shape=MNIST,
        num_classes=10,
        conv=1,
        linear=3,
        relu=0,
        options={"channels": 8, "max_width": 64, "head_activation": "relu"},
    )
    assert linear_widths(model) == [8 * 14 * 14, 64, 32, 10]
    assert layer_counts(model)["relu_layers"] == 2
    with pytest.raises(UserError, match=r"net.options.hidden is not an option of net=simplecnn"):
        build_net(
            "simplecnn",
            input_shape=MNIST,
            num_classes=10,
            conv=1,
            linear=3,
            relu=1,
            options={"hidden": 512},
        )
    with pytest.raises(UserError, match=r"net.options.channels .*densepoly \(its options: none"):
        build_net(
            "densepoly",
            input_shape=MNIST,
            num_classes=10,
            conv=1,
            linear=3,
            relu=1,
            options={"channels": 8},
        )


def test_layer_counts_of_a_dense_net() -> None:
    model = DensePolyNN(input_shape=MNIST, num_classes=10, linear=4)
    counts = layer_counts(model)
    assert counts["conv_layers"] == 0 and counts["linear_layers"] == 4
    assert counts["relu_layers"] == 3
    assert counts["parameters"] == 784 * 392 + 392 + 392 * 196 + 196 + 196 * 98 + 98 + 98 * 10 + 10


@pytest.mark.parametrize(("shape", "limit"), [(MNIST, 4), (CIFAR, 5)])
def test_simplecnn_conv_limit_is_named(shape: tuple[int, int, int], limit: int) -> None:
    SimpleCNN(input_shape=shape, num_classes=10, conv=limit, linear=1, relu=1)
    with pytest.raises(UserError, match=f"at most {limit} fit. Use conv=0..{limit}"):
        SimpleCNN(input_shape=shape, num_classes=10, conv=limit + 1, linear=1, relu=1)


def test_linear_limits_are_named() -> None:
    with pytest.raises(UserError, match=r"linear=8 is too many.*Use linear=1..7"):
        DensePolyNN(input_shape=MNIST, num_classes=10, linear=8)


@pytest.mark.parametrize("bad", [-1, 0, 1.5, True])
def test_bad_counts_are_user_errors_naming_the_key(bad: object) -> None:
    with pytest.raises(UserError, match=rf"^linear={bad!r} must be an integer of at least 1$"):
        build_net("denselinear", input_shape=MNIST, num_classes=10, conv=0, linear=bad, relu=0)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"^conv=-1 must be an integer of at least 0$"):
        build_net("simplecnn", input_shape=MNIST, num_classes=10, conv=-1, linear=1, relu=0)
    with pytest.raises(UserError, match=rf"^linear={bad!r} must be an integer of at least 1$"):
        build_net("simplecnn", input_shape=MNIST, num_classes=10, conv=1, linear=bad, relu=0)  # type: ignore[arg-type]


def test_unknown_net_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="denselinear, densepoly, simplecnn"):
        build_net("nope", input_shape=MNIST, num_classes=10, conv=1, linear=1, relu=1)
