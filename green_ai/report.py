"""`python -m green_ai.report`: the thesis's tables and figures from the runs of one MLflow
experiment (`tracking.experiment=NAME`) or from a tidy CSV of observations (`input=FILE.csv`),
into `out_dir` (see green_ai/analysis/writer.py)."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from green_ai.config.hydra_app import fail, run_app
from green_ai.config.report import ReportConfig
from green_ai.config.store import register_configs, to_settings
from green_ai.errors import UserError
from green_ai.paths import launch_dir

register_configs()


def report_settings(cfg: DictConfig) -> ReportConfig:
    """The composed config as typed, checked settings; a wrong value is one UserError line."""
    return to_settings(cfg, ReportConfig)


def run_report(cfg: DictConfig) -> Path:
    """Validate everything, read the runs, then write the report; returns report.md's path."""
    from green_ai.analysis.writer import write_report

    settings = report_settings(cfg)
    out_dir = Path(launch_dir(), settings.out_dir).resolve()
    if settings.input is not None:
        from green_ai.analysis.tidy import read_tidy

        runs = read_tidy(Path(launch_dir(), settings.input), settings.factors)
    else:
        from green_ai.analysis.load import load_experiment

        runs = load_experiment(settings.tracking.uri, settings.tracking.experiment)
    return write_report(runs, settings, out_dir)


@hydra.main(config_path="../conf", config_name="report", version_base="1.3")
def _main(cfg: DictConfig) -> None:
    try:
        path = run_report(cfg)
    except UserError as err:
        fail(str(err))
    print(f"report written to {path}")


def main() -> None:
    run_app(_main)


if __name__ == "__main__":
    main()
