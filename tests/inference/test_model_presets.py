"""`model=NAME` works for torchvision's classifiers: one preset per builder."""

from __future__ import annotations

from pathlib import Path

import torchvision
import yaml

MODEL_CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
THESIS = {"alexnet", "densenet121", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny"}


def test_every_preset_names_a_torchvision_classifier() -> None:
    builders = set(torchvision.models.list_models(module=torchvision.models))
    presets = {}
    for path in MODEL_CONF.glob("*.yaml"):
        cfg = yaml.safe_load(path.read_text())
        assert cfg["name"] == path.stem
        assert cfg["weights"] is None  # random init: works offline
        presets[path.stem] = cfg
    assert set(presets) >= THESIS
    assert set(presets) <= builders | THESIS
    # Far more than the thesis's five: the classifiers of the installed torchvision.
    assert len(presets) >= 0.9 * len(builders)
