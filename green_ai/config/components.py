"""Config nodes that name a Python callable with `_target_` (Hydra's convention).

A researcher's own net, dataset, optimiser or training loop is a YAML file in a group, e.g.
`conf/net/tinyres.yaml` holding `_target_: my_lab.models.TinyRes` and `width: 8`. Its keys are
keyword arguments of that callable, so no dataclass can list them: the node is kept as
`(name, target, kwargs)` here and checked against the callable's signature at run time
(green_ai.experiment.checks), never imported from `config/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from green_ai.errors import UserError

TARGET = "_target_"


@dataclass(frozen=True)
class Component:
    """A `_target_` node: the callable's dotted path and the keyword arguments it gets.

    `name` is the node's `name:` key, else the callable's own name in lower case
    (`my_lab.models.TinyRes` → `tinyres`): what run names, study names and params show.
    """

    name: str
    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def is_component(raw: object) -> bool:
    return isinstance(raw, Mapping) and TARGET in raw


def component(group: str, raw: Mapping[str, Any], *, reserved: tuple[str, ...] = ()) -> Component:
    """`raw` (a `_target_` node of `group`) as a Component; `reserved` keys are not kwargs."""
    target = raw.get(TARGET)
    if not isinstance(target, str) or "." not in target:
        raise UserError(
            f"{group}._target_={target!r} must be a dotted path to a callable, "
            "e.g. my_lab.models.TinyRes"
        )
    name = raw.get("name") or target.rsplit(".", 1)[-1].lower()
    if not isinstance(name, str):
        raise UserError(f"{group}.name={name!r} must be a string")
    skip = {TARGET, "name", "_partial_", *reserved}
    kwargs = {str(k): v for k, v in raw.items() if k not in skip}
    return Component(name=name, target=target, kwargs=kwargs)


def as_plain(value: Any) -> Any:
    """An OmegaConf container (or anything) as plain dicts and lists."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


# Groups whose option's name is what runs and studies show; a file may leave `name:` out.
NAMED_GROUPS = ("net", "dataset", "optimizer", "task", "hparams")


def name_from_choices(cfg: Any, choices: Mapping[str, Any] | None) -> None:
    """Give each node of NAMED_GROUPS without a `name:` the name of its file, as Hydra chose
    it (`net=tinyres` → `net.name: tinyres`): the group option's name is the file name."""
    if not choices:
        return
    from omegaconf import DictConfig, open_dict

    for group in NAMED_GROUPS:
        node = cfg.get(group) if isinstance(cfg, DictConfig) else None
        choice = choices.get(group)
        if isinstance(node, DictConfig) and choice and "name" not in node:
            with open_dict(node):
                node["name"] = str(choice).rsplit("/", 1)[-1]
