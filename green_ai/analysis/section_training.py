"""report.md's search-strategy section (thesis §3.5.1): best accuracy (Table 3.3),
convergence against rounds and joules (Figures 3.3–3.6), energy to target."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import plots
from green_ai.analysis import search_tables as tables
from green_ai.analysis.markdown import Report
from green_ai.analysis.runs import level_label, slug
from green_ai.config.report import ReportConfig

LAYER_COUNTS = ("linear", "conv", "relu")


def search_section(
    report: Report, rounds: pd.DataFrame, studies: pd.DataFrame, settings: ReportConfig
) -> None:
    report.heading("Search strategies (thesis §3.5.1, Table 3.3, Figures 3.3–3.6)")
    if studies.empty:
        report.missing("no search-strategy studies (training studies outside a factorial).")
        return
    curves = tables.search_curves(rounds, studies)
    if curves.empty or curves["accuracy"].isna().all():
        report.missing("the search studies have no completed rounds with an `accuracy`.")
        return
    report.table(
        "best_accuracy",
        tables.best_accuracy_table(curves, studies),
        "Best test accuracy per study, and the number of rounds run when it was first reached",
    )
    metered = studies[studies["energy_metric"] != "none"]
    unmetered = studies[studies["energy_metric"] == "none"]
    if len(unmetered):
        report.missing(
            f"{len(unmetered)} of {len(studies)} search studies have rounds without energy "
            f"({', '.join(unmetered['study_name'])}): left out of the energy figures and table."
        )
    metric_note = ", ".join(sorted(set(metered["energy_metric"])))
    _convergence_figures(report, curves, studies, metric_note)
    if len(metered):
        pct = settings.target_pct
        report.table(
            "energy_to_target",
            tables.energy_to_target_table(curves, metered, pct),
            f"Energy ({metric_note}) each search spent until its accuracy came within {pct:g}% "
            "(relative) of its final best; failed rounds count",
        )


def _convergence_figures(
    report: Report, curves: pd.DataFrame, studies: pd.DataFrame, metric_note: str
) -> None:
    """Figures 3.3–3.6: one figure per dataset and search space, one panel per network."""
    labels = _line_labels(studies)
    for (dataset, hparams), group in studies.groupby(["dataset", "hparams"], sort=True):
        name = f"{slug(str(dataset))}_{slug(str(hparams))}"
        _convergence_figure(
            report,
            curves,
            group,
            labels,
            "round",
            f"convergence_rounds_{name}",
            f"Best-so-far accuracy against rounds, {dataset}, search space {hparams}",
        )
        energy_group = group[group["energy_metric"] != "none"]
        if len(energy_group):
            _convergence_figure(
                report,
                curves,
                energy_group,
                labels,
                "energy",
                f"convergence_energy_{name}",
                f"Best-so-far accuracy against cumulative energy ({metric_note}), {dataset}, "
                f"search space {hparams}",
            )


def _line_labels(studies: pd.DataFrame) -> dict[str, str]:
    """Strategy names; the seed is added where one panel has a strategy twice."""
    labels = {}
    keys = ["net", "conv", "linear", "relu", "dataset", "hparams", "search"]
    dup = studies.astype(str).duplicated(keys, keep=False)
    for (_, s), d in zip(studies.iterrows(), dup, strict=True):
        labels[str(s["study_name"])] = (
            f"{s['search']} (seed {s['seed']})" if d else str(s["search"])
        )
    return labels


def _convergence_figure(
    report: Report,
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    labels: dict[str, str],
    x: str,
    name: str,
    caption: str,
) -> None:
    nets = studies.groupby(["net", "conv", "linear", "relu"], sort=True, dropna=False)
    # Titles name the layer counts only where panels differ in them (dense nets ignore conv).
    shown = [f for f in LAYER_COUNTS if studies[f].nunique() > 1]
    fig, axes = plots.panels(nets.ngroups)
    for ax, ((net, conv, linear, relu), s) in zip(axes, nets, strict=True):
        plots.convergence(ax, curves[curves["study_name"].isin(s["study_name"])], labels, x)
        counts = {"conv": conv, "linear": linear, "relu": relu}
        extra = " ".join(f"{f}={level_label(counts[f])}" for f in shown)
        ax.set_title(f"{net} ({extra})" if extra else str(net))
    report.figure(name, fig, caption)
