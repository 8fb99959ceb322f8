from __future__ import annotations

import pytest
import torch

from green_ai.errors import UserError
from green_ai.inference import build_model, check_image_size, classification_models
from green_ai.inference.classifiers import resolve_device

THESIS_MODELS = ["alexnet", "densenet121", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny"]


def test_the_thesis_models_are_torchvision_classifiers() -> None:
    names = classification_models()
    assert set(THESIS_MODELS) <= set(names)
    assert "fasterrcnn_resnet50_fpn" not in names  # detection is not classification


def test_an_unknown_name_lists_close_matches() -> None:
    with pytest.raises(UserError, match="did you mean alexnet"):
        check_image_size("alexnt", 224)
    with pytest.raises(UserError, match="shufflenet_v2_x1_0"):
        check_image_size("ShuffleNet_V2_x1_0", 224)


def test_a_too_small_image_names_the_smallest_that_works() -> None:
    with pytest.raises(
        UserError, match=r"too small for alexnet: the smallest that works is (\d+)"
    ) as e:
        check_image_size("alexnet", 32)
    smallest = int(str(e.value).rsplit(" ", 1)[-1])
    # The claim checked with real tensors on the CPU: that size runs, one pixel less does not.
    model = build_model("alexnet", weights=None, image_size=smallest, device=torch.device("cpu"))
    with torch.inference_mode():
        assert model(torch.rand(1, 3, smallest, smallest)).shape == (1, 1000)
        with pytest.raises(RuntimeError):
            model(torch.rand(1, 3, smallest - 1, smallest - 1))


@pytest.mark.slow
def test_a_random_vit_takes_any_multiple_of_its_patch_size() -> None:
    check_image_size("vit_b_16", 64)
    with pytest.raises(UserError, match="does not work with vit_b_16"):
        check_image_size("vit_b_16", 40)


def test_built_models_are_in_eval_mode_on_the_device() -> None:
    torch.manual_seed(0)
    model = build_model(
        "shufflenet_v2_x0_5", weights=None, image_size=32, device=torch.device("cpu")
    )
    assert not model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    with torch.inference_mode():
        assert model(torch.rand(3, 3, 32, 32)).shape == (3, 1000)


def test_bad_weights_name_is_a_user_error() -> None:
    with pytest.raises(UserError, match="model.weights='NOT_A_WEIGHT'"):
        build_model("alexnet", weights="NOT_A_WEIGHT", image_size=224, device=torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no GPU")
def test_cuda_without_a_gpu_is_a_user_error() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UserError, match="no CUDA GPU"):
        resolve_device("cuda")
