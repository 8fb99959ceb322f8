"""The thesis's study names (and so their hashes) never move: a rerun of any thesis command
resumes the study it started before the entrance was opened to users' own experiments.

`thesis_study_names.json` was written from the code before that change; each key is the
command's overrides (the preset's sweep cell).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from green_ai.search.naming import study_name

CONF = Path(__file__).resolve().parents[2] / "conf"

PINNED = json.loads((Path(__file__).with_name("thesis_study_names.json")).read_text())


def _overrides(key: str) -> list[str]:
    if key == "default":
        return []
    if key == "synthetic pruned":
        return ["dataset=synthetic", "search.pruner=median", "search=tpe"]
    if key == "pareto":
        return ["search.objectives=[accuracy,energy]", "search=gp"]
    preset, *cell = key.split()
    return [f"+experiment={preset}", *cell]


@pytest.mark.parametrize("key", sorted(PINNED))
def test_thesis_study_names_are_pinned(key: str) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=_overrides(key))
    assert study_name(cfg) == PINNED[key]
