"""`--help` of each app lists exactly its own config groups, with the options conf/ holds.

The three apps share conf/, so their help texts list their groups by hand (Hydra's automatic
list would show every group to every app); these tests keep those lists true.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = {
    "train": {"dataset", "net", "search", "hparams", "energy", "tracking", "+experiment"},
    "infer": {"model", "batching", "energy", "tracking", "+experiment"},
    "report": {"tracking"},
    "measure": {"energy", "tracking"},
}


@cache
def listed(app: str) -> dict[str, set[str]]:
    """The groups section of `python -m green_ai.<app> --help`: group -> options named."""
    out = subprocess.run(
        [sys.executable, "-m", f"green_ai.{app}", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    section = out.split("== Configuration groups", 1)[1].split("== Config ==", 1)[0]
    groups: dict[str, set[str]] = {}
    current = ""
    for line in section.splitlines()[1:]:
        head = re.match(r"^(\+?\w+): (.*)$", line)
        if head:
            current, line = head.group(1), head.group(2)
            groups[current] = set()
        if current:
            groups[current] |= set(re.findall(r"\b[a-z][a-z0-9_]+\b", line.split("(")[0]))
    return groups


def options(group: str) -> set[str]:
    return {p.stem for p in (CONF / group.lstrip("+")).glob("*.yaml")}


@pytest.mark.parametrize("app", sorted(GROUPS))
def test_help_lists_the_apps_own_groups(app: str) -> None:
    assert set(listed(app)) == GROUPS[app]


@pytest.mark.parametrize(
    ("app", "group"),
    [(app, g) for app, gs in sorted(GROUPS.items()) for g in sorted(gs) if g != "+experiment"],
)
def test_every_option_of_a_listed_group_is_named(app: str, group: str) -> None:
    named = listed(app)[group]
    if group == "model":  # 80 presets: the help names the thesis's five, and they exist
        thesis = {"alexnet", "densenet121", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny"}
        assert thesis <= named and thesis <= options("model")
    else:
        assert named == options(group)


def test_every_experiment_preset_is_listed_by_its_app() -> None:
    train, infer = listed("train")["+experiment"], listed("infer")["+experiment"]
    assert train | infer == options("experiment") and not train & infer
