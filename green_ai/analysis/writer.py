"""`report.md` with every table (also as CSV) and figure (also as PNG) of one set of runs.

Sections follow the thesis: training studies and search strategies (§3.5.1), the factorial
(§3.5.2: the architecture's layers, or whatever factors a sweep varied), inference (§4.4). A
section without data says what is missing instead of drawing empty axes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from green_ai.analysis import search_tables
from green_ai.analysis.factors import find_factorials
from green_ai.analysis.markdown import Report
from green_ai.analysis.runs import COUNTED_STATES, Runs
from green_ai.analysis.section_design import design_section
from green_ai.analysis.section_factorial import factorial_section
from green_ai.analysis.section_inference import inference_section
from green_ai.analysis.section_training import search_section, training_section
from green_ai.config.report import ReportConfig

log = logging.getLogger(__name__)


def write_report(runs: Runs, settings: ReportConfig, out_dir: Path) -> Path:
    """Write report.md, its CSVs and PNGs into `out_dir` and return report.md's path.

    A factor named that no study has, or a study whose objective has no direction, stops
    before anything is written.
    """
    rounds, energy_info = search_tables.with_round_energy(runs.rounds, settings.energy_metric)
    studies = runs.studies.merge(energy_info, on="study_name", how="left")
    studies["energy_metric"] = studies["energy_metric"].fillna("none")
    # The metric each study optimised, filled in for the search tables only: the factorials
    # see the params the runs have.
    optimised = search_tables.with_objectives(studies)
    search_studies, factorials = find_factorials(studies, settings.factors)
    report = Report(out_dir)
    report.heading(f"Report of {runs.source}", level=1)
    if runs.is_empty:
        report.missing(
            "no runs to report: run `python -m green_ai.train` or `python -m green_ai.infer` "
            "with this experiment first, or give input=FILE.csv."
        )
        return report.write()
    _overview(report, runs)
    curves = training_section(report, rounds, optimised)
    search_section(report, curves, search_studies, settings)
    factorial_section(report, rounds, runs.rep_metrics, factorials, settings)
    design_section(report, rounds, runs.studies, settings)
    inference_section(report, runs.inference, settings)
    path = report.write()
    log.info("wrote %s and %d files", path, len(report.files))
    return path


def _overview(report: Report, runs: Runs) -> None:
    counted = runs.rounds["state"].isin(COUNTED_STATES)
    text = (
        f"{len(runs.studies)} training studies ({int(counted.sum())} rounds), "
        f"{len(runs.inference)} inference runs."
    )
    if (~counted).any():
        states = runs.rounds[~counted]["state"].value_counts()
        left = int((~counted).sum())
        text += (
            f" {left} round run{'s are' if left != 1 else ' is'} not counted as rounds ("
            + ", ".join(f"{count} {state}" for state, count in states.items())
            + "): only COMPLETE and PRUNED trials are rounds."
        )
    if runs.untagged:
        text += f" {runs.untagged} runs without a `green_ai.kind` tag are left out."
    report.text(text)
    for note in runs.notes:
        report.text(note)
    if runs.energy_kinds:
        report.text(
            "Energy figures by meter kind (tag `energy.kind`): "
            + ", ".join(f"{k}: {n} runs" for k, n in runs.energy_kinds.items())
            + (
                ". Estimated figures are a model of the CPU, not a measurement."
                if "estimated" in runs.energy_kinds
                else "."
            )
        )
