"""Running a Hydra app so that every wrong value is one line and exit status 2.

Two places catch a wrong value before anything is written:

- Hydra's own composition (an unknown group option, a value of the wrong type, an unknown
  key): `run_app` lets Hydra raise instead of printing its multi-line report, and prints one
  line naming the override and what is allowed.
- Our ranges and cross-field rules (the settings dataclasses' `__post_init__`, plus checks an
  app adds such as "this layer count fits this image"): the `Preflight` callback runs them in
  `on_run_start` / `on_multirun_start`, i.e. before Hydra creates an output folder, and for a
  sweep on every job's config before the first job starts.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from hydra.core.global_hydra import GlobalHydra
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from green_ai.config.components import name_from_choices
from green_ai.config.groups import describe_groups, searching, sources_of
from green_ai.errors import UserError
from green_ai.urls import redact_text

EXIT_USAGE = 2


class SweepFailedError(Exception):
    """Some of a sweep's jobs failed for good, the summary of the others is printed already
    (green_ai.cluster): the message says how many and how to rerun; exit 1, no traceback."""


def fail(message: str) -> NoReturn:
    """Print `error: message` on one line and exit with status 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USAGE)


def run_app(hydra_main: Callable[[], Any]) -> None:
    """Call a `@hydra.main` function; configuration errors end the process in one line."""
    from hydra.errors import HydraException

    # Hydra prints composition errors itself over several lines and exits 1; with this set it
    # raises them to us instead (it changes nothing else of how a job runs).
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if not OmegaConf.has_resolver("green_ai.groups"):
        # `${green_ai.groups:a,b}` in a `hydra.help.template`: the lines `a: its options`, read
        # from the group files of conf/ and the search path when --help is shown.
        OmegaConf.register_new_resolver(
            "green_ai.groups", lambda *groups: describe_groups(groups), use_cache=False
        )
    try:
        hydra_main()
    except UserError as err:
        fail(str(err))
    except (HydraException, OmegaConfBaseException) as err:
        fail(describe_hydra_error(err))
    except SweepFailedError as err:  # the summary and a line per failed job are printed already
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt as err:
        # Ctrl-C or SIGTERM: the round in flight was recorded as failed, a rerun redoes it.
        what = str(err) or "interrupted"
        print(f"{what}: the work in flight was recorded; rerun to go on", file=sys.stderr)
        sys.exit(143 if "SIGTERM" in what else 130)


def describe_hydra_error(err: BaseException) -> str:
    """One line for Hydra's and OmegaConf's errors: the override, the problem, the options."""
    from hydra.errors import MissingConfigException

    if isinstance(err, MissingConfigException):
        lines = str(err).splitlines()
        head = lines[0].split(": ", 1)[-1]  # "In 'config': Could not find 'net/nope'"
        for i, line in enumerate(lines):
            if line.startswith("Available options"):
                options = []
                for option in lines[i + 1 :]:
                    if not option.startswith("\t"):
                        break
                    options.append(option.strip())
                return f"{head}; {line.rstrip(':').lower()}: {', '.join(options)}"
        return head
    text = "; ".join(line.strip().rstrip(".") for line in str(err).splitlines() if line.strip())
    text = text.replace("Error merging override ", "")
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException):
        reason = str(getattr(cause, "msg", None) or cause).splitlines()[0]
        head, _, rest = text.partition("; ")
        return f"{head}: {reason}" + (f"; {rest}" if rest else "")
    return text


def task_config(config: DictConfig) -> DictConfig:
    """The job's config without Hydra's own node, as the task function receives it."""
    cfg = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    assert isinstance(cfg, DictConfig)
    with open_dict(cfg):
        hydra = cfg.pop("hydra", None)
    choices = OmegaConf.select(hydra, "runtime.choices") if hydra is not None else None
    name_from_choices(cfg, choices)
    return cfg


class Preflight(Callback):
    """Checks every job's settings before Hydra writes anything (see the module docstring).

    `check` names a function `(cfg: DictConfig, *, multirun: bool) -> None` that validates one
    job's config (raising `UserError`); `prepare` optionally names one that runs once before
    the jobs of a run or sweep start, with the first job's config (e.g. creating stores).
    """

    def __init__(self, check: str, prepare: str | None = None) -> None:
        self.check = _function(check)
        self.prepare = _function(prepare) if prepare else None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._run(config, [config], multirun=False)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.errors import HydraException

        config_name = kwargs.get("config_name")
        try:
            # Each job as the launcher composes it: the sweep's hydra overrides (the user's
            # hydra.searchpath among them) and then its own.
            own = [str(o) for o in config.hydra.overrides.hydra]
            jobs = [_compose(config_name, [*own, *job]) for job in sweep_jobs(config)]
        except (HydraException, OmegaConfBaseException) as err:
            # Hydra turns an exception of a callback into a warning and goes on; a job that
            # cannot be composed must stop the sweep here, in the same one line.
            fail(describe_hydra_error(err))
        check_launcher(config)
        self._run(config, jobs or [config], multirun=True)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra has saved the job's config and command line: passwords in URLs go.
        runtime = config.hydra.runtime.output_dir
        folders = [Path(runtime) / str(config.hydra.output_subdir or ".hydra")]
        if config.hydra.mode == RunMode.MULTIRUN:
            folders.append(Path(str(config.hydra.sweep.dir)))
        for folder in folders:
            for path in folder.glob("*.yaml"):
                text = path.read_text()
                if redact_text(text) != text:
                    path.write_text(redact_text(text))

    def _run(self, config: DictConfig, jobs: list[DictConfig], *, multirun: bool) -> None:
        for job in jobs:
            try:
                # Group files (energy backends...) are looked up where this job's are.
                with searching(sources_of(job)):
                    self.check(task_config(job), multirun=multirun)
            except UserError as err:
                where = ""
                if multirun and len(jobs) > 1:
                    where = f"job {' '.join(job.hydra.overrides.task)}: "
                fail(where + str(err))
        if self.prepare is not None:
            try:
                with searching(sources_of(jobs[0])):
                    self.prepare(task_config(jobs[0]), multirun=multirun)
            except UserError as err:
                fail(str(err))


def check_launcher(config: DictConfig) -> None:
    """The launcher's own check of its request, if it has one (`request(params, config)`,
    e.g. a SLURM partition that can run the jobs: green_ai.cluster), before anything is
    written or submitted."""
    target = str(config.hydra.launcher.get("_target_", ""))
    try:
        request = getattr(_function(target), "request", None) if target else None
    except (ImportError, AttributeError):
        return  # Hydra reports a launcher it cannot load in its own words
    if request is None:
        return
    params = OmegaConf.to_container(config.hydra.launcher, resolve=True)
    assert isinstance(params, dict)
    params.pop("_target_", None)
    try:
        request(params, config)
    except UserError as err:
        fail(str(err))


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """The override lists of every job the basic sweeper will launch, in its order."""
    # BasicSweeper's splitting of sweep overrides into jobs has no public API: its internal
    # class (hydra-core pinned below 2).
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = str(config.hydra.sweeper.get("_target_", ""))
    # green_ai's DesignSweeper splits cells as the basic sweeper does (then orders rounds).
    if not sweeper.endswith(("BasicSweeper", "DesignSweeper")):
        return []
    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))  # type: ignore[arg-type]
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    (batch,) = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)
    return [list(job) for job in batch]


def _compose(config_name: str | None, overrides: list[str]) -> DictConfig:
    hydra = GlobalHydra.instance().hydra
    assert hydra is not None
    return hydra.compose_config(
        config_name=config_name,
        overrides=overrides,
        run_mode=RunMode.RUN,
        with_log_configuration=False,
    )


def _function(path: str) -> Callable[..., Any]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
