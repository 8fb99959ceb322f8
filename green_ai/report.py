"""`python -m green_ai.report tracking.experiment=NAME out_dir=DIR`: the thesis's tables and
figures from tracked runs (see green_ai/analysis/writer.py)."""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from green_ai.errors import UserError


@hydra.main(config_path="../conf", config_name="report", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from green_ai.analysis.writer import build_report

    try:
        path = build_report(cfg)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(f"report written to {path}")


if __name__ == "__main__":
    main()
