"""report.md's training sections: best accuracy of every study (Table 3.3), then the search
strategies' convergence, energy to target and pruning (thesis §3.5.1, Figures 3.3–3.6)."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import plots
from green_ai.analysis import search_tables as tables
from green_ai.analysis.markdown import Report
from green_ai.analysis.runs import level_label, slug
from green_ai.config.report import ReportConfig

LAYER_COUNTS = ("conv", "linear", "relu")


def training_section(report: Report, rounds: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Table 3.3 for every training study, factorial or not; returns the round-by-round curves."""
    report.heading("Training studies: best accuracy (thesis Table 3.3)")
    if studies.empty:
        report.missing("no training studies.")
        return pd.DataFrame(columns=tables.CURVE_COLUMNS)
    curves = tables.search_curves(rounds, studies)
    best = tables.best_accuracy_table(curves, studies)
    if best.empty:
        report.missing("no training study has a completed round with an `accuracy`.")
        return curves
    report.table(
        "best_accuracy",
        best,
        "Best test accuracy per study, the round (1-based) that first reached it, and the "
        "joules the study spent (`energy_metric`)",
    )
    unmetered = studies[studies["energy_metric"] == "none"]
    if len(unmetered):
        report.missing(
            f"{len(unmetered)} of {len(studies)} training studies have rounds without energy "
            f"({', '.join(unmetered['study_name'])}): no joules for them here or in the figures."
        )
    unknown = tables.uncounted_without_energy(rounds, studies)
    if unknown:
        runs = "round run logged" if unknown == 1 else "round runs logged"
        report.text(
            f"{unknown} failed or cut-short {runs} no energy: what they cost is unknown and "
            "left out of the joules spent."
        )
    return curves


def search_section(
    report: Report, curves: pd.DataFrame, studies: pd.DataFrame, settings: ReportConfig
) -> None:
    """Figures 3.3–3.6, energy to target and pruning for the studies outside a factorial."""
    report.heading("Search strategies (thesis §3.5.1, Figures 3.3–3.6)")
    if studies.empty:
        report.missing(
            "no search-strategy studies (every training study belongs to an architecture "
            "factorial, below)."
        )
        return
    curves = curves[curves["study_name"].isin(studies["study_name"])]
    if curves.empty or curves["accuracy"].isna().all():
        report.missing("the search studies have no completed rounds with an `accuracy`.")
        return
    metered = studies[studies["energy_metric"] != "none"]
    metric_note = ", ".join(f"`{m}`" for m in sorted(set(metered["energy_metric"])))
    _convergence_figures(report, curves, studies, metric_note)
    if len(metered):
        pct = settings.target_pct
        report.table(
            "energy_to_target",
            tables.energy_to_target_table(curves, metered, pct),
            f"Energy ({metric_note}) each search spent until its accuracy came within {pct:g}% "
            "(relative) of its final best; failed rounds' joules count",
        )
    _pruning(report, curves, studies, settings.target_pct)


def _convergence_figures(
    report: Report, curves: pd.DataFrame, studies: pd.DataFrame, metric_note: str
) -> None:
    """Figures 3.3–3.6: one figure per dataset and search space, one panel per network."""
    labels = _line_labels(studies)
    for (dataset, hparams), group in studies.groupby(["dataset", "hparams"], sort=True):
        name = f"{slug(str(dataset))}_{slug(str(hparams))}"
        where = f"{dataset}, search space {hparams}"
        _convergence_figure(
            report,
            curves,
            group,
            labels,
            "round",
            f"convergence_rounds_{name}",
            f"Best-so-far accuracy against rounds, {where}",
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
                f"Best-so-far accuracy against cumulative energy ({metric_note}), {where}",
            )


def _line_labels(studies: pd.DataFrame) -> dict[str, str]:
    """Strategy names, with the pruner where one is used; the seed is added where one panel
    has a strategy twice."""
    labels = {}
    keys = ["net", "conv", "linear", "relu", "dataset", "hparams", "search", "pruner"]
    dup = studies.astype(str).duplicated(keys, keep=False)
    for (_, s), d in zip(studies.iterrows(), dup, strict=True):
        label = str(s["search"]) + (f" + {s['pruner']}" if s["pruner"] != "none" else "")
        labels[str(s["study_name"])] = f"{label} (seed {s['seed']})" if d else label
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
    nets = studies.groupby(["net", *LAYER_COUNTS], sort=True, dropna=False)
    # Titles name the layer counts only where panels differ in them (dense nets ignore conv).
    shown = [f for f in LAYER_COUNTS if studies[f].nunique() > 1]
    fig, axes = plots.panels(nets.ngroups)
    for ax, ((net, *counts), s) in zip(axes, nets, strict=True):
        plots.convergence(ax, curves[curves["study_name"].isin(s["study_name"])], labels, x)
        by_name = dict(zip(LAYER_COUNTS, counts, strict=True))
        extra = " ".join(f"{f}={level_label(by_name[f])}" for f in shown)
        ax.set_title(f"{net} ({extra})" if extra else str(net))
    report.figure(name, fig, caption)


def _pruning(report: Report, curves: pd.DataFrame, studies: pd.DataFrame, pct: float) -> None:
    report.heading("Pruning (search.pruner)", level=3)
    if (studies["pruner"] == "none").all():
        report.text("No search study used a pruner (`search.pruner=none` everywhere).")
        return
    table = tables.pruning_table(curves, studies, pct)
    report.table(
        "pruning",
        table,
        "Each strategy with and without pruning: joules spent, best accuracy, and the joules "
        f"until the accuracy came within {pct:g}% of the best any of its studies reached "
        "(`target_accuracy`, the same for every pruner); pruned rounds' joules count, their "
        "accuracy does not",
    )
    if not (table["pruner"] == "none").any():
        report.missing("no study of these strategies ran without a pruner to compare with.")
