"""green_ai's Hydra sweeper: the basic sweeper, with the run order of `design.order`.

Hydra takes sweepers only from the `hydra_plugins` package; the order itself is
green_ai.schedule. `sequential` (the default) is Hydra's basic sweeper unchanged: one job per
cell, in its order. `interleaved` and `randomized` launch waves of jobs, each running one
cell's study up to a round count (green_ai.schedule), so the cells' rounds alternate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override

log = logging.getLogger("green_ai")


class DesignSweeper(BasicSweeper):
    """Hydra's basic sweeper whose jobs follow `design.order` and `design.seed`."""

    def split_arguments(  # type: ignore[override]
        self, overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        """The jobs in batches (waves): as the basic sweeper for `sequential`, else each
        cell's rounds as separate jobs in the chosen order (called by `sweep`)."""
        from green_ai.errors import UserError
        from green_ai.schedule import SEQUENTIAL, job_overrides, round_order, waves

        batches = BasicSweeper.split_arguments(overrides, max_batch_size)
        assert self.config is not None
        design = self.config.get("design") or {}
        order, seed = str(design.get("order", SEQUENTIAL)), int(design.get("seed", 0))
        if order == SEQUENTIAL:
            return batches
        swept = {o.get_key_element() for o in overrides if o.is_sweep_override()}
        for key in ("design.order", "design.seed"):
            if key in swept:
                self._unmake_sweep_dir()
                raise UserError(
                    f"{key} cannot vary within a sweep: it orders the sweep's rounds; run one "
                    "sweep per value"
                )
        cells = [job for batch in batches for job in batch]
        launches = round_order([self._rounds_of(cell) for cell in cells], order, seed)
        planned = waves(launches, max_batch_size)
        self._record(cells, launches, order, seed)
        log.info(
            "design.order=%s design.seed=%d: %d cells, %d rounds in %d waves; order of cells: %s",
            order,
            seed,
            len(cells),
            len(launches),
            len(planned),
            " ".join(str(launch.cell + 1) for launch in launches),
        )
        return [[job_overrides(cells[j.cell], j) for j in wave] for wave in planned]

    def _unmake_sweep_dir(self) -> None:
        """Remove what the sweep's start wrote (sweep.json) where no job ran: a refused
        sweep leaves nothing behind."""
        from green_ai.sweep import SWEEP_FILE

        assert self.config is not None
        folder = Path(str(self.config.hydra.sweep.dir)).absolute()
        (folder / SWEEP_FILE).unlink(missing_ok=True)
        here = Path.cwd()
        for path in (folder, *folder.parents):
            if here == path or here.is_relative_to(path) or not path.is_relative_to(here):
                break  # never the folder the command runs in, nor one outside it
            try:
                path.rmdir()  # only while empty
            except OSError:
                break

    def _rounds_of(self, cell: list[str]) -> int:
        """The `rounds` of one cell as its job composes it."""
        assert self.hydra_context is not None and self.config is not None
        composed = self.hydra_context.config_loader.load_sweep_config(self.config, list(cell))
        return int(composed.rounds)

    def _record(self, cells: list[list[str]], launches: list[Any], order: str, seed: int) -> None:
        """Tell the sweep's jobs and its summary (green_ai.sweep) which cell and round each
        job number is."""
        from green_ai.sweep import SWEEP_FILE

        assert self.config is not None
        path = Path(str(self.config.hydra.sweep.dir)) / SWEEP_FILE
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            info = {}
        info.update(
            {
                "jobs": len(cells),
                "launches": len(launches),
                "order": order,
                "seed": seed,
                "schedule": [[launch.cell + 1, launch.rounds] for launch in launches],
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(info))


__all__ = ["DesignSweeper"]
