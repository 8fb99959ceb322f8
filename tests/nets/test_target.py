"""A researcher's own net by `_target_`: preflight, build, channel adaptation, probe, counts."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from green_ai.errors import UserError
from green_ai.nets import (
    adapt_input_channels,
    build_target_net,
    check_target_net,
    layer_counts,
    probe_net,
)

CONF_NET = Path(__file__).resolve().parents[2] / "conf" / "net"
MNIST = (1, 28, 28)
PKG = "my_lab_test"
MODELS = f"{PKG}.models"

# A researcher's package, as it would sit on their own path.
MODELS_PY = '''
from torch import nn


class TinyRes(nn.Module):
    """Conv blocks then one linear layer; built for the data it is given."""

    def __init__(self, width, depth=1, *, num_classes, input_shape):
        super().__init__()
        c, h, w = input_shape
        layers = [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
        for _ in range(depth - 1):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width * h * w, num_classes)

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


def flexible(width=4, **options):
    """Takes anything; keeps what it was given."""
    model = nn.Sequential(nn.Flatten(), nn.LazyLinear(width))
    model.options = dict(options)
    return model


def fixed_input(num_classes):
    """Only ever takes 1x28x28 images."""
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, num_classes))


def five_classes(num_classes):
    """Ignores num_classes."""
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 5))


def depthwise_stem():
    return nn.Sequential(nn.Conv2d(3, 3, 3, groups=3), nn.Flatten(), nn.LazyLinear(10))


def picky(width=4):
    raise ValueError(f"width must be even, got {width}")


def not_a_model():
    return "resnet"


NOT_CALLABLE = 3
'''


@pytest.fixture
def my_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """`my_lab_test.models` importable from a temporary directory, forgotten afterwards."""
    pkg = tmp_path / PKG
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(textwrap.dedent(MODELS_PY))
    (pkg / "broken.py").write_text("import not_a_module_anywhere_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
        del sys.modules[name]


def test_user_module_is_checked_and_built_with_the_data_arguments(my_lab: Path) -> None:
    target = f"{MODELS}.TinyRes"
    check_target_net(target, {"width": 4}, searched=["depth"])
    # width may be searched instead of set; the names may come as a one-shot iterator.
    check_target_net(target, {}, searched=iter(["width", "depth"]))
    model = build_target_net(target, {"width": 4, "depth": 2}, input_shape=MNIST, num_classes=7)
    assert type(model).__name__ == "TinyRes"
    assert model(torch.zeros(3, *MNIST)).shape == (3, 7)
    probe_net(model, MNIST, name="tinyres", num_classes=7)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.in_channels for c in convs] == [1, 4]


def test_layer_counts_of_a_user_module(my_lab: Path) -> None:
    shape = (1, 8, 8)
    model = build_target_net(
        f"{MODELS}.TinyRes", {"width": 4, "depth": 2}, input_shape=shape, num_classes=10
    )
    expected_params = (1 * 4 * 9 + 4) + (4 * 4 * 9 + 4) + (4 * 64 * 10 + 10)
    assert layer_counts(model) == {
        "conv_layers": 2,
        "linear_layers": 1,
        "relu_layers": 2,
        "parameters": expected_params,
    }


def test_kwargs_builder_takes_any_key_but_gets_data_arguments_only_by_name(my_lab: Path) -> None:
    target = f"{MODELS}.flexible"
    check_target_net(target, {"width": 3, "anything": 1}, searched=["else"])
    model = build_target_net(target, {"anything": 1}, input_shape=MNIST, num_classes=10)
    # num_classes/input_shape are not pushed through **options: only names in the signature.
    assert model.options == {"anything": 1}  # type: ignore[attr-defined]


def test_unknown_key_is_one_line_naming_it_and_the_arguments(my_lab: Path) -> None:
    with pytest.raises(UserError) as err:
        check_target_net(f"{MODELS}.TinyRes", {"widht": 4})
    assert str(err.value) == (
        f"net.widht is not an argument of {MODELS}.TinyRes (its arguments: width, depth)"
    )


def test_unknown_searched_key_is_named_as_searched(my_lab: Path) -> None:
    with pytest.raises(UserError, match=r"^net\.dpeth \(searched with target: net\) is not an"):
        check_target_net(f"{MODELS}.TinyRes", {"width": 4}, searched=["dpeth"])


def test_missing_required_argument_is_named(my_lab: Path) -> None:
    with pytest.raises(UserError, match=r"needs the argument width: set net\.width$"):
        check_target_net(f"{MODELS}.TinyRes", {})


def test_data_arguments_cannot_be_set_in_the_config(my_lab: Path) -> None:
    with pytest.raises(UserError, match=r"^net\.num_classes comes from the dataset"):
        check_target_net(f"{MODELS}.TinyRes", {"width": 4, "num_classes": 3})
    with pytest.raises(UserError, match=r"^net\.input_shape comes from the dataset"):
        build_target_net(
            f"{MODELS}.TinyRes",
            {"width": 4, "input_shape": (3, 8, 8)},
            input_shape=MNIST,
            num_classes=10,
        )


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("my_lab_nowhere.models.Nope", "does not import: No module named 'my_lab_nowhere'"),
        (f"{PKG}.nope.Net", f"does not import: No module named '{PKG}.nope'"),
        (f"{MODELS}.Nope", f"does not import: module '{MODELS}' has no attribute 'Nope'"),
        (
            f"{PKG}.broken.Net",
            "does not import: No module named 'not_a_module_anywhere_xyz'",
        ),
        (f"{MODELS}.NOT_CALLABLE", "is an int, not a class or function"),
        (
            "tinyres",
            "is neither a dotted path (package.module.Name) nor a torchvision classifier "
            "(torchvision.models.list_models())",
        ),
    ],
)
def test_a_target_that_does_not_import_is_one_line(my_lab: Path, target: str, said: str) -> None:
    with pytest.raises(UserError) as err:
        check_target_net(target, {})
    assert str(err.value) == f"net._target_={target} {said}"


def test_builder_that_raises_is_one_line(my_lab: Path) -> None:
    with pytest.raises(UserError) as err:
        build_target_net(f"{MODELS}.picky", {"width": 3}, input_shape=MNIST, num_classes=10)
    assert str(err.value) == (
        f"net._target_={MODELS}.picky: the builder raised ValueError: width must be even, got 3"
    )


def test_builder_that_returns_no_module_is_one_line(my_lab: Path) -> None:
    with pytest.raises(UserError) as err:
        build_target_net(f"{MODELS}.not_a_model", {}, input_shape=MNIST, num_classes=10)
    assert (
        str(err.value)
        == f"net._target_={MODELS}.not_a_model: returned a str, not a torch.nn.Module"
    )


def test_probe_names_the_net_and_the_shape_it_cannot_take(my_lab: Path) -> None:
    model = build_target_net(f"{MODELS}.fixed_input", {}, input_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(UserError, match=r"^net=fixed cannot take 1×8×8 inputs: RuntimeError: "):
        probe_net(model, (1, 8, 8), name="fixed")


def test_probe_refuses_an_output_that_is_not_one_score_per_class(my_lab: Path) -> None:
    model = build_target_net(f"{MODELS}.five_classes", {}, input_shape=MNIST, num_classes=10)
    probe_net(model, MNIST)  # it runs; only the class count is wrong
    with pytest.raises(UserError, match=r"shape \(2, 5\) .* expected \(2, 10\)"):
        probe_net(model, MNIST, name="five", num_classes=10)


def test_grouped_first_conv_with_other_channels_is_refused(my_lab: Path) -> None:
    with pytest.raises(
        UserError, match=r"first convolution \(0\) takes 3 channels, the data has 1"
    ):
        build_target_net(f"{MODELS}.depthwise_stem", {}, input_shape=MNIST, num_classes=10)


def test_resnet18_on_one_channel_28x28_is_adapted_and_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="green_ai")
    check_target_net("torchvision.models.resnet18", {"zero_init_residual": True})
    model = build_target_net(
        "torchvision.models.resnet18",
        {"zero_init_residual": True},
        input_shape=MNIST,
        num_classes=10,
    )
    conv1 = model.get_submodule("conv1")
    assert isinstance(conv1, nn.Conv2d) and conv1.in_channels == 1
    assert (conv1.out_channels, conv1.kernel_size, conv1.stride, conv1.padding) == (
        64,
        (7, 7),
        (2, 2),
        (3, 3),
    )
    assert conv1.bias is None
    assert model.get_submodule("fc").out_features == 10
    assert model(torch.randn(2, *MNIST)).shape == (2, 10)
    assert any("first convolution (conv1) took 3 channels" in r.message for r in caplog.records)
    probe_net(model, MNIST, name="resnet18", num_classes=10)


def test_probe_leaves_batchnorm_statistics_and_mode_alone() -> None:
    model = build_target_net("resnet18", {}, input_shape=(3, 16, 16), num_classes=4)
    before = model.get_submodule("bn1").running_mean.clone()  # type: ignore[operator]
    model.train()
    probe_net(model, (3, 16, 16), name="resnet18", num_classes=4)
    assert model.training
    assert torch.equal(model.get_submodule("bn1").running_mean, before)  # type: ignore[arg-type]


def test_resnet18_keys_are_checked_against_its_model_class() -> None:
    with pytest.raises(UserError) as err:
        check_target_net("torchvision.models.resnet18", {"widht": 8})
    message = str(err.value)
    assert message.startswith("net.widht is not an argument of torchvision.models.resnet18")
    assert "zero_init_residual" in message and "width_per_group" in message
    assert "num_classes" not in message  # the dataset's, not the config's


def test_torchvision_builder_error_is_one_line() -> None:
    with pytest.raises(UserError, match=r"^net\._target_=resnet18: the builder raised ValueError"):
        build_target_net("resnet18", {"groups": 2}, input_shape=MNIST, num_classes=10)


def test_layer_counts_of_resnet18() -> None:
    model = build_target_net("resnet18", {}, input_shape=MNIST, num_classes=10)
    counts = layer_counts(model)
    # 11,689,512 parameters as published for 3 channels and 1000 classes; here the stem has
    # 1 input channel and the classifier 10 outputs.
    expected = 11_689_512 - 64 * 2 * 7 * 7 - (512 + 1) * (1000 - 10)
    # A stem, 16 block convolutions, 3 downsampling ones; torchvision reuses one ReLU module
    # per block, so 1 + 8 ReLU modules.
    assert counts == {
        "conv_layers": 20,
        "linear_layers": 1,
        "relu_layers": 9,
        "parameters": expected,
    }


def test_the_resnet18_config_builds_its_torchvision_classifier() -> None:
    loaded = OmegaConf.to_container(OmegaConf.load(CONF_NET / "resnet18.yaml"))
    assert isinstance(loaded, dict)
    node = {str(k): v for k, v in loaded.items()}
    target = node.pop("_target_")
    check_target_net(target, node)
    model = build_target_net(target, node, input_shape=(3, 32, 32), num_classes=100)
    probe_net(model, (3, 32, 32), name="resnet18", num_classes=100)


def test_adapting_a_matching_or_dense_net_changes_nothing() -> None:
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten())
    first = conv[0]
    adapt_input_channels(conv, 1, name="net=x")
    assert conv[0] is first
    # The first layer is linear: nothing is known about channels, the later conv stays.
    dense = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Conv2d(3, 4, 3))
    later = dense[2]
    adapt_input_channels(dense, 1, name="net=x")
    assert dense[2] is later
