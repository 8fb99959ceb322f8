"""`python -m green_ai.train`: one training study per Hydra job (thesis chapter 3).

    python -m green_ai.train -m net=simplecnn conv=1,4 relu=0,1

The Hydra function is a thin shell: `train(cfg)` does the work, so tests call it directly.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from green_ai.errors import UserError
from green_ai.search import StudyOutcome, run_study

log = logging.getLogger("green_ai")


def train(cfg: DictConfig) -> StudyOutcome:
    """Run or resume the study described by a composed config; return its outcome."""
    outcome = run_study(cfg)
    best = "n/a" if outcome.best_accuracy is None else f"{outcome.best_accuracy:.4f}"
    joules = "" if outcome.energy_j is None else f", {outcome.energy_j:.1f} J"
    log.info(
        "study %s: %d rounds (%d new), best accuracy %s%s",
        outcome.study_name,
        outcome.rounds_completed,
        outcome.new_rounds,
        best,
        joules,
    )
    return outcome


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg).best_accuracy
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
