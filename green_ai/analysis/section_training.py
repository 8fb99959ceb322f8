"""report.md's training sections: best accuracy of every study (Table 3.3), then the search
strategies' convergence, energy to target and pruning (thesis §3.5.1, Figures 3.3–3.6)."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import pareto_tables, plots
from green_ai.analysis import search_tables as tables
from green_ai.analysis.markdown import Report
from green_ai.analysis.runs import level_label, slug
from green_ai.config.report import ReportConfig

LAYER_COUNTS = ("conv", "linear", "relu")


def training_section(report: Report, rounds: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Table 3.3 for every training study, factorial or not, a table per objective; returns
    the round-by-round curves."""
    groups = tables.objective_groups(studies)
    names = list(dict.fromkeys(o.name for o, _ in groups)) or ["accuracy"]
    report.heading(f"Training studies: best {' and best '.join(names)} (thesis Table 3.3)")
    if studies.empty:
        report.missing("no training studies.")
        return pd.DataFrame(columns=tables.CURVE_COLUMNS)
    curves = tables.search_curves(rounds, studies)
    shown = 0
    for objective, group in groups:
        best = tables.best_accuracy_table(curves, group, objective)
        if best.empty:
            report.missing(_no_rounds(objective, len(groups) == 1))
            continue
        shown += 1
        report.table(f"best{objective.suffix or '_accuracy'}", best, _best_caption(objective))
    if not shown:
        return curves
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


def _no_rounds(objective: tables.Objective, alone: bool) -> str:
    if objective.is_thesis and alone:
        return "no training study has a completed round with an `accuracy`."
    return (
        f"no training study that optimised {objective.label} has a completed round with a "
        f"`{objective.name}`."
    )


def _best_caption(objective: tables.Objective) -> str:
    if objective.is_thesis:
        what = "Best test accuracy"
    else:
        what = f"{'Highest' if objective.maximize else 'Lowest'} {objective.label}"
    return (
        f"{what} per study, the round (1-based) that first reached it, and the joules the "
        "study spent (`energy_metric`)"
    )


def search_section(
    report: Report, curves: pd.DataFrame, studies: pd.DataFrame, settings: ReportConfig
) -> None:
    """Figures 3.3–3.6, energy to target and pruning for the studies outside a factorial,
    each for the studies of one objective."""
    report.heading("Search strategies (thesis §3.5.1, Figures 3.3–3.6)")
    if studies.empty:
        report.missing(
            "no search-strategy studies (every training study belongs to an architecture "
            "factorial, below)."
        )
        return
    groups = tables.objective_groups(studies)
    curves = curves[curves["study_name"].isin(studies["study_name"])]
    valued = set(curves.loc[curves["value"].notna(), "study_name"])
    found = [(o, g) for o, g in groups if g["study_name"].isin(valued).any()]
    if not found:
        if all(o.is_thesis for o, _ in groups):
            report.missing("the search studies have no completed rounds with an `accuracy`.")
        else:
            names = ", ".join(f"`{o.name}`" for o, _ in groups)
            report.missing(
                f"the search studies have no completed rounds with a value of their objective "
                f"({names})."
            )
        return
    for objective, _ in groups:
        if objective not in {o for o, _ in found}:
            report.missing(
                f"no search study that optimised {objective.label} has a completed round with "
                f"a `{objective.name}`: no figures or tables for it."
            )
    groups = found
    metered = studies[studies["energy_metric"] != "none"]
    metric_note = ", ".join(f"`{m}`" for m in sorted(set(metered["energy_metric"])))
    for objective, group in groups:
        _convergence_figures(report, curves, group, metric_note, objective)
    pct = settings.target_pct
    for objective, group in groups:
        group_metered = group[group["energy_metric"] != "none"]
        if not len(group_metered):
            continue
        report.table(
            f"energy_to_target{objective.suffix}",
            tables.energy_to_target_table(curves, group_metered, pct, objective),
            _target_caption(objective, pct, metric_note),
        )
    _pruning(report, curves, groups, pct)


def _target_caption(objective: tables.Objective, pct: float, metric_note: str) -> str:
    if objective.is_thesis:
        reached = f"its accuracy came within {pct:g}% (relative) of its final best"
    else:
        best = "highest" if objective.maximize else "lowest"
        reached = (
            f"its {objective.label} came within {pct:g}% of its final {best} (relative to "
            f"|{best}|)"
        )
    return f"Energy ({metric_note}) each search spent until {reached}; failed rounds' joules count"


def _convergence_figures(
    report: Report,
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    metric_note: str,
    objective: tables.Objective,
) -> None:
    """Figures 3.3–3.6: one figure per dataset and search space, one panel per network."""
    labels = _line_labels(studies)
    what = "accuracy" if objective.is_thesis else objective.label
    for (dataset, hparams), group in studies.groupby(["dataset", "hparams"], sort=True):
        name = f"{slug(str(dataset))}_{slug(str(hparams))}{objective.suffix}"
        where = f"{dataset}, search space {hparams}"
        _convergence_figure(
            report,
            curves,
            group,
            labels,
            "round",
            f"convergence_rounds_{name}",
            f"Best-so-far {what} against rounds, {where}",
            objective,
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
                f"Best-so-far {what} against cumulative energy ({metric_note}), {where}",
                objective,
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
    objective: tables.Objective,
) -> None:
    if objective.is_thesis:
        ylabel = "best test accuracy so far"
    else:
        ylabel = f"{'highest' if objective.maximize else 'lowest'} {objective.name} so far"
    nets = studies.groupby(["net", *LAYER_COUNTS], sort=True, dropna=False)
    # Titles name the layer counts only where panels differ in them (dense nets ignore conv).
    shown = [f for f in LAYER_COUNTS if studies[f].nunique() > 1]
    fig, axes = plots.panels(nets.ngroups)
    for ax, ((net, *counts), s) in zip(axes, nets, strict=True):
        study_curves = curves[curves["study_name"].isin(s["study_name"])]
        plots.convergence(ax, study_curves, labels, x, ylabel, maximize=objective.maximize)
        by_name = dict(zip(LAYER_COUNTS, counts, strict=True))
        extra = " ".join(f"{f}={level_label(by_name[f])}" for f in shown)
        ax.set_title(f"{net} ({extra})" if extra else str(net))
    report.figure(name, fig, caption)


def _pruning(
    report: Report,
    curves: pd.DataFrame,
    groups: list[tuple[tables.Objective, pd.DataFrame]],
    pct: float,
) -> None:
    report.heading("Pruning (search.pruner)", level=3)
    pruned = [(o, g) for o, g in groups if (g["pruner"] != "none").any()]
    if not pruned:
        report.text("No search study used a pruner (`search.pruner=none` everywhere).")
        return
    for objective, group in pruned:
        # Accuracy-and-energy studies are compared by their fronts, not by one best value.
        pareto = pareto_tables.is_pareto(group)
        if (~pareto).any() and (group.loc[~pareto, "pruner"] != "none").any():
            table = tables.pruning_table(curves, group[~pareto], pct, objective)
            report.table(f"pruning{objective.suffix}", table, _pruning_caption(objective, pct))
            if not (table["pruner"] == "none").any():
                report.missing(
                    "no study of these strategies ran without a pruner to compare with."
                )
        if pareto.any() and (group.loc[pareto, "pruner"] != "none").any():
            _pareto_pruning(report, curves, group[pareto], pct, objective)


def _pareto_pruning(
    report: Report,
    curves: pd.DataFrame,
    studies: pd.DataFrame,
    pct: float,
    objective: tables.Objective,
) -> None:
    table = pareto_tables.pareto_pruning_table(curves, studies, pct, objective)
    what = "accuracy" if objective.is_thesis else objective.label
    worst = "0" if objective.is_thesis else "the worst value any of their completed rounds reached"
    report.table(
        f"pruning_pareto{objective.suffix}",
        table,
        f"Accuracy-and-energy studies with and without Pareto pruning: joules spent (pruned "
        f"rounds' included), the hypervolume of the {what} × joules front of their completed "
        f"rounds, and the joules until it came within {pct:g}% of the largest hypervolume any "
        f"of them reached (`target_hypervolume`). Each comparison measures every study from "
        f"one reference point (`reference_*`): {what} {worst}, and the most joules any of "
        "their completed rounds spent",
    )
    if not (table["pruner"] == "none").any():
        report.missing("no accuracy-and-energy study of these strategies ran without a pruner.")


def _pruning_caption(objective: tables.Objective, pct: float) -> str:
    if objective.is_thesis:
        return (
            "Each strategy with and without pruning: joules spent, best accuracy, and the "
            f"joules until the accuracy came within {pct:g}% of the best any of its studies "
            "reached (`target_accuracy`, the same for every pruner); pruned rounds' joules "
            "count, their accuracy does not"
        )
    best = "highest" if objective.maximize else "lowest"
    return (
        f"Each strategy with and without pruning: joules spent, {best} {objective.label}, and "
        f"the joules until it came within {pct:g}% of the {best} any of its studies reached "
        f"(relative to |{best}|; `{objective.target_column}`, the same for every pruner); "
        f"pruned rounds' joules count, their `{objective.name}` does not"
    )
