"""The config of a user's own experiment: `_target_` nodes, objectives with directions, and the
file name as a group option's name."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from omegaconf import DictConfig, OmegaConf

from green_ai.config.components import name_from_choices
from green_ai.config.store import train_settings
from green_ai.errors import UserError

Make = Callable[..., DictConfig]


def test_a_target_net_keeps_its_keys_as_arguments_and_has_no_layer_counts(make_cfg: Make) -> None:
    cfg = make_cfg("~conv", "~linear")
    cfg.net = OmegaConf.create({"_target_": "my_lab.models.TinyRes", "width": 8})
    s = train_settings(cfg)
    assert (s.net.name, s.net.target, s.net.kwargs) == (
        "tinyres",
        "my_lab.models.TinyRes",
        {"width": 8},
    )
    assert (s.conv, s.linear, s.relu) == (None, None, None)
    assert s.optimizer.name == "adam" and s.task.name == "classify"


def test_the_thesis_net_gets_its_layer_counts(make_cfg: Make) -> None:
    s = train_settings(make_cfg("~conv", "~linear"))
    assert (s.net.name, s.conv, s.linear, s.relu) == ("simplecnn", 2, 3, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["search.objectives=[val_loss]"],
            "val_loss needs its direction, e.g. search.directions=[minimize]",
        ),
        (
            ["search.objectives=[val_loss]", "search.directions=[up]"],
            "search.directions[0]='up' is not one of",
        ),
        (
            ["search.objectives=[a,b]", "search.directions=[maximize]"],
            "one direction per objective",
        ),
        (["search.objectives=[energy]"], "energy can only come after it"),
    ],
)
def test_wrong_objectives_and_nets_are_one_line(
    make_cfg: Make, overrides: list[str], message: str
) -> None:
    with pytest.raises(UserError, match=message.replace("[", r"\[")) as err:
        train_settings(make_cfg(*overrides))
    assert "\n" not in str(err.value)


def test_an_unknown_thesis_net_is_one_line_before_anything_runs(make_cfg: Make) -> None:
    from green_ai.search import check_feasible

    with pytest.raises(UserError, match="net='resnet' is not known; use one of") as err:
        check_feasible(train_settings(make_cfg("net.name=resnet")))
    assert "\n" not in str(err.value)


def test_a_loop_metric_with_its_direction(make_cfg: Make) -> None:
    s = train_settings(make_cfg("search.objectives=[val_loss]", "search.directions=[minimize]"))
    assert s.search.objective == "val_loss" and s.search.objective_directions() == ["minimize"]
    assert train_settings(make_cfg()).search.objective_directions() == ["maximize"]


def test_the_file_name_is_the_name_where_a_target_file_has_none() -> None:
    cfg = OmegaConf.create(
        {
            "net": {"_target_": "my_lab.models.TinyRes"},
            "task": {"_target_": "x.fit", "name": "mine"},
        }
    )
    name_from_choices(cfg, {"net": "tinyres_wide", "task": "cosine"})
    assert cfg.net.name == "tinyres_wide" and cfg.task.name == "mine"
