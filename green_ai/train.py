"""`python -m green_ai.train`: one training study per Hydra job (thesis chapter 3).

    python -m green_ai.train -m net=simplecnn conv=1,4 relu=0,1

The Hydra function is a thin shell: `train(cfg)` does the work, so tests call it directly: it
wires the study loop to MLflow, progress and the sweep's summary (green_ai.observers). Every
job's settings are checked by `preflight` before Hydra writes anything.
"""

from __future__ import annotations

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from green_ai.config.components import name_from_choices
from green_ai.config.hydra_app import fail, run_app
from green_ai.config.store import register_configs, train_settings
from green_ai.config.train import TrainConfig
from green_ai.errors import UserError
from green_ai.observers import check_observers, default_observers, prepare_observers
from green_ai.search import (
    StudyOutcome,
    check_feasible,
    check_stores,
    prepare_stores,
    run_study,
)
from green_ai.sweep import current_job

log = logging.getLogger("green_ai")

register_configs()


def preflight(cfg: DictConfig, *, multirun: bool) -> None:
    """A job's settings, checked before it starts: values, the net against the data, and
    that the study database and MLflow store answer."""
    settings = train_settings(cfg)
    check_feasible(settings)
    check_stores(settings)
    check_observers(settings)


def prepare(cfg: DictConfig, *, multirun: bool) -> None:
    """Before a sweep's jobs start together: create the stores they share, once."""
    if multirun:
        settings = train_settings(cfg)
        prepare_stores(settings)
        prepare_observers(settings)


def train(cfg: TrainConfig | DictConfig) -> StudyOutcome:
    """Run or resume the study described by a composed config, tracked in MLflow, shown on
    the terminal and summed up for its sweep; return its outcome."""
    settings = train_settings(cfg)
    check_observers(settings)
    outcome = run_study(settings, observers=default_observers(settings, current_job()))
    best = "n/a" if outcome.best_accuracy is None else f"{outcome.best_accuracy:.4f}"
    joules = "" if outcome.energy_j is None else f", {outcome.energy_j:.1f} J"
    log.info(
        "study %s: %d rounds (%d new), best %s %s%s (MLflow run %s)",
        outcome.study_name,
        outcome.rounds_completed,
        outcome.new_rounds,
        outcome.objective,
        best,
        joules,
        outcome.parent_run_id,
    )
    return outcome


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _main(cfg: DictConfig) -> float | None:
    name_from_choices(cfg, HydraConfig.get().runtime.choices)
    try:
        return train(cfg).best_accuracy
    except UserError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # the launcher hands it back to the sweep, which ends on one line too
        fail(str(err))


def main() -> None:
    run_app(_main)


if __name__ == "__main__":
    main()
