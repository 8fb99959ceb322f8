"""`--help` of each app lists exactly its own config groups, with the options their files hold.

The apps share conf/, so each app names the groups it reads (Hydra's automatic list would show
every group to every app); the options of each group are read from conf/ and the search path
when the help is shown, and these tests check them against the files.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[1] / "conf"
# What each app reads; a group without files yet (optimizer, task) is left out of the help.
GROUPS = {
    "train": {
        "dataset",
        "net",
        "optimizer",
        "task",
        "search",
        "hparams",
        "energy",
        "tracking",
        "+experiment",
    },
    "infer": {"model", "batching", "energy", "tracking", "+experiment"},
    "report": {"tracking"},
    "measure": {"energy", "tracking"},
}


@cache
def listed(app: str, *overrides: str) -> dict[str, set[str]]:
    """The groups section of `python -m green_ai.<app> --help`: group -> options named."""
    out = subprocess.run(
        [sys.executable, "-m", f"green_ai.{app}", "--help", *overrides],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    section = out.split("== Configuration groups", 1)[1].split("\n\n", 1)[0]
    groups: dict[str, set[str]] = {}
    current = ""
    for line in section.splitlines()[1:]:
        head = re.match(r"^(\+?\w+): (.*)$", line)
        if head:
            current, line = head.group(1), head.group(2)
            groups[current] = set()
        groups[current] |= set(re.findall(r"[a-z0-9_]+", line))
    return groups


def options(group: str, conf: Path = CONF) -> set[str]:
    return {p.stem for p in (conf / group.lstrip("+")).glob("*.yaml")}


@pytest.mark.parametrize("app", sorted(GROUPS))
def test_help_lists_the_apps_own_groups_that_have_files(app: str) -> None:
    assert set(listed(app)) == {g for g in GROUPS[app] if options(g)}
    assert "energy" not in GROUPS[app] or "energy" in listed(app)


@pytest.mark.parametrize(
    ("app", "group"),
    [(app, g) for app, gs in sorted(GROUPS.items()) for g in sorted(gs) if g != "+experiment"],
)
def test_every_option_of_a_listed_group_is_named(app: str, group: str) -> None:
    assert listed(app).get(group, set()) == options(group)


def test_every_experiment_preset_is_listed_by_the_app_it_composes_with() -> None:
    train, infer = listed("train")["+experiment"], listed("infer")["+experiment"]
    assert train | infer == options("experiment") and not train & infer
    assert "inference_batching" in infer and "architecture" in train


def test_a_config_dir_of_ones_own_adds_its_files_to_the_help(tmp_path: Path) -> None:
    (tmp_path / "energy").mkdir()
    (tmp_path / "energy" / "plug.yaml").write_text(
        "defaults: [base_energy, _self_]\nbackend: plug\nfactory: {_target_: lab.Plug}\n"
    )
    (tmp_path / "batching").mkdir()
    (tmp_path / "batching" / "pairs.yaml").write_text("_target_: lab.Pairs\n")
    searchpath = f"hydra.searchpath=[file://{tmp_path}]"
    infer = listed("infer", searchpath)
    assert infer["energy"] == options("energy") | {"plug"}
    assert infer["batching"] == options("batching") | {"pairs"}
    assert listed("measure", searchpath)["energy"] == options("energy") | {"plug"}
