"""The options of a config group, read from the YAML files of conf/ and the search path.

A group's files are the list of its names: `energy=<name>` and `energy.backends=[...]` name
files of conf/energy/, `batching=<name>` one of conf/batching/, and `--help` lists them. A
user's own config dir (`hydra.searchpath=[file://LAB/conf]`) adds its files to each group.

Which directories are searched: inside a Hydra job, the job's config sources (conf/ and the
search path); while `Preflight` checks a job before it starts, that job's (`sources_of`);
elsewhere (the library, tests without Hydra) the package's conf/ alone. Only YAML sources
count: the schemas Hydra's ConfigStore holds (such as `energy/base_energy`) are no option.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# The package's own conf/ (the apps' `config_path="../conf"`).
CONF = Path(__file__).resolve().parents[2] / "conf"

Sources = tuple[str, ...]  # search path entries such as file:///x/conf or pkg://a.conf

_checking: ContextVar[Sources | None] = ContextVar("green_ai_config_sources", default=None)


def sources_of(config: DictConfig) -> Sources:
    """The YAML config sources of a composed config that still has its `hydra` node."""
    found = OmegaConf.select(config, "hydra.runtime.config_sources") or []
    return tuple(f"{s.schema}://{s.path}" for s in found if s.schema not in ("structured", None))


@contextlib.contextmanager
def searching(sources: Sources) -> Iterator[None]:
    """Read groups from `sources` inside this block (a job checked before Hydra runs it)."""
    token = _checking.set(sources)
    try:
        yield
    finally:
        _checking.reset(token)


def current_sources() -> Sources:
    """Where groups are read from now (see the module docstring)."""
    checking = _checking.get()
    if checking is not None:
        return checking
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        sources = sources_of(DictConfig({"hydra": HydraConfig.get()}))
        if sources:
            return sources
    return (f"file://{CONF}",)


def options(group: str, sources: Sources | None = None) -> list[str]:
    """The option names of `group` (sorted), every source together; [] for no such group."""
    repo = _repository(sources if sources is not None else current_sources())
    from hydra.core.object_type import ObjectType

    return list(repo.get_group_options(group, ObjectType.CONFIG))


def option(group: str, name: str, sources: Sources | None = None) -> dict[str, Any] | None:
    """The content of `group/name.yaml` as written (interpolations unresolved), over the files
    of its group that it extends, from the first source that has it; None when none has it."""
    node = _load(sources if sources is not None else current_sources(), f"{group}/{name}")
    return copy.deepcopy(node)  # the cached one stays as read


@cache
def _load(sources: Sources, path: str) -> dict[str, Any] | None:
    result = _repository(sources).load_config(path)
    if result is None:
        return None
    # A file that extends another of its group (fixed_16: fixed) gets that file's keys first;
    # defaults elsewhere (the ConfigStore's base_energy) hold no declarations.
    group = path.rpartition("/")[0]
    merged: Any = OmegaConf.create()
    for entry in result.defaults_list or []:
        below = getattr(entry, "path", None)  # a plain `- name` entry (ConfigDefault)
        if isinstance(below, str) and below != "_self_" and "/" not in below:
            merged = OmegaConf.merge(merged, _load(sources, f"{group}/{below}") or {})
    node = OmegaConf.to_container(OmegaConf.merge(merged, result.config), resolve=False)
    assert isinstance(node, dict)
    node.pop("defaults", None)
    return {str(k): v for k, v in node.items()}


@cache
def _repository(sources: Sources) -> Any:
    # Hydra's own repository reads file://, pkg:// and plugin sources the way composition does.
    # Hydra has no public API for a repository over given sources (GlobalHydra's config loader
    # lists the options of the running app's search path only): its internal classes, with
    # hydra-core pinned below 2 in pyproject.toml.
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers the source types (file, pkg and plugins')
    path = ConfigSearchPathImpl()
    for source in sources:
        path.append("green_ai", source)
    return ConfigRepository(path)


def describe_groups(groups: Sequence[str], *, width: int = 95) -> str:
    """`--help` lines `group: option, option, ...` for each of `groups` that has options.

    A `+`-prefixed group (such as `+experiment`) is optional: of its options only those that
    compose with the app's primary config are shown, so each app lists its own presets.
    """
    import textwrap

    lines = []
    for group in groups:
        bare = group.lstrip("+")
        names = options(bare)
        if group != bare:
            names = [n for n in names if _composes(f"{group}={n}")]
        if names:
            lines.append(
                textwrap.fill(
                    ", ".join(names),
                    width=width,
                    initial_indent=f"{group}: ",
                    subsequent_indent=" " * (len(group) + 2),
                    break_on_hyphens=False,
                )
            )
    return "\n".join(lines)


def _composes(override: str) -> bool:
    """Whether the running app's primary config composes with `override` added."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf.errors import OmegaConfBaseException

    hc = HydraConfig.get()
    overrides = [*hc.overrides.hydra, *hc.overrides.task, override]
    try:
        GlobalHydra.instance().config_loader().load_configuration(
            hc.job.config_name, overrides, RunMode.RUN
        )
    except (HydraException, OmegaConfBaseException):
        return False
    return True
