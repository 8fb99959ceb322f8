"""Run names: what varies first, short enough for MLflow's runs table."""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig

from green_ai.config.store import train_settings
from green_ai.tracking.names import cell_label, round_label

Make = Callable[..., DictConfig]


def test_a_sweep_cell_is_named_by_its_varying_overrides_first(make_cfg: Make) -> None:
    s = train_settings(make_cfg("conv=4", "relu=1", "linear=3"))
    job = ["net=simplecnn", "conv=4", "relu=1", "dataset=synthetic", "epochs=1"]
    assert cell_label(s, job, ["conv", "relu"]) == "conv4 relu1 lin3 simplecnn random"
    # The part MLflow's table shows (about 20 characters) tells the four cells apart.
    assert cell_label(s, job, ["relu", "conv"]).startswith("relu1 conv4")


def test_groups_shortcuts_and_other_keys_become_words(make_cfg: Make) -> None:
    s = train_settings(make_cfg("search=grid", "seed=3", "search.pruner=median"))
    job = ["search=grid", "seed=3", "dataset.train_samples=256", "+search.pruner=median"]
    varying = ["search", "seed", "dataset.train_samples", "search.pruner"]
    label = cell_label(s, job, varying)
    assert label == "grid seed3 train_samples256 median conv1 relu1 lin2 simplecnn"


def test_without_a_sweep_the_factors_name_the_study(make_cfg: Make) -> None:
    assert cell_label(train_settings(make_cfg())) == "conv1 relu1 lin2 simplecnn random"
    dense = train_settings(make_cfg("net=densepoly", "linear=4"))
    assert cell_label(dense) == "lin4 densepoly random"  # conv and relu do not apply
    pruned = train_settings(make_cfg("search.pruner=hyperband"))
    assert cell_label(pruned).endswith("random hyperband")


def test_round_names_lead_with_the_round() -> None:
    assert round_label(3, "conv4 relu1 lin3") == "round3 conv4 relu1 lin3"
