"""report.md's factorial section (thesis §3.5.2): CV, normality, Kruskal–Wallis with η², Dunn's
post-hoc tests, mean increases and the E+/E− clusters, with their guards, on the thesis's
layer factors or whatever factors the sweep varied (`factors.py`)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from green_ai.analysis import factorial_tables as tables
from green_ai.analysis import plots
from green_ai.analysis.factors import FACTORS, Factorial, describe
from green_ai.analysis.markdown import Report
from green_ai.config.report import ReportConfig

UNIT_TEXT = {
    "repetition": "one training iteration (a repetition), as in the thesis (§3.3.3)",
    "round": "one round (its repetitions' joules summed, their accuracies averaged)",
}
CLUSTER_TEXT = {
    "kmeans": "k-means with k = 2 on the configurations' mean energies, solved exactly in one "
    "dimension (the split with the least within-cluster sum of squares): it follows the gap "
    "the thesis saw between architectures without forcing two equal halves",
    "median": "configurations whose mean energy is above the median of the configuration means "
    "form E+",
}


def factorial_section(
    report: Report,
    rounds: pd.DataFrame,
    rep_metrics: Callable[[list[str]], pd.DataFrame],
    factorials: list[Factorial],
    settings: ReportConfig,
) -> None:
    named = list(settings.factors)
    thesis = all(f.is_thesis for f in factorials) and named in ([], list(FACTORS))
    if thesis:
        report.heading("Architecture factorial (thesis §3.5.2, Tables 3.4, 3.5, Figures 3.7, 3.8)")
    else:
        report.heading(
            f"Factorial ({describe(factorials) or ', '.join(named)}; as thesis §3.5.2, Tables "
            "3.4, 3.5, Figures 3.7, 3.8)"
        )
    if not factorials:
        report.missing(
            f"no factorial over {', '.join(named)} (studies alike but for these, over two or "
            "more combinations of them)."
            if named
            else "no factorial (studies of one network, dataset and search over two or more "
            "combinations of linear/conv/relu, or of keys their command-line overrides set)."
        )
        return
    points = _observations(report, rounds, rep_metrics, factorials, settings)
    if points.empty:
        return
    if not thesis:
        report.text(
            "Factors: "
            + "; ".join(f"{f.label}: {', '.join(f'`{k}`' for k in f.factors)}" for f in factorials)
            + " (`factors=[...]` names them; else they are the keys the studies' overrides set "
            "that differ between otherwise-alike studies)."
        )
    guards = settings.guards
    report.text(
        f"Dunn's post-hoc p-values adjusted with `{settings.posthoc.p_adjust}` within each "
        f"factor. Clusters: {CLUSTER_TEXT[settings.clusters.method]}; each configuration is in "
        f"exactly one. Guards: Shapiro–Wilk and Q–Q points need at least "
        f"{guards.normality_min_n} observations per configuration (`guards.normality_min_n`), "
        f"η² magnitude labels at least {guards.effect_min_n} per factor level "
        "(`guards.effect_min_n`); below that they are withheld."
    )
    _intervals(report, points, settings.design.confidence)
    _variation(report, points)
    _normality(report, points, settings)
    _differences(report, points, settings, thesis)
    _clusters(report, points, settings.clusters.method)


def _observations(
    report: Report,
    rounds: pd.DataFrame,
    rep_metrics: Callable[[list[str]], pd.DataFrame],
    factorials: list[Factorial],
    settings: ReportConfig,
) -> pd.DataFrame:
    """Every factorial's observations in the configured unit; says which energy each uses."""
    unit, preferred = settings.factorial.unit, settings.energy_metric
    parts = []
    for f in factorials:
        if unit == "repetition":
            ids = rounds[rounds["study_name"].isin(f.studies["study_name"])]["run_id"].tolist()
            points = tables.repetition_points(rounds, rep_metrics(ids), f, preferred)
        else:
            points = tables.round_points(rounds, f, preferred)
        if points.left_out:
            report.missing(
                f"{f.label}: {len(points.left_out)} studies have {unit}s without energy "
                f"({', '.join(points.left_out)}); they are left out."
            )
        if points.frame["config"].nunique() < 2:
            report.missing(f"{f.label}: fewer than two configurations with energy; no statistics.")
            continue
        report.text(f"{f.label}: energy is {points.energy}.")
        parts.append(points.frame)
    if not parts:
        return pd.DataFrame(columns=tables.POINT_COLUMNS)
    report.text(f"Unit of analysis: {UNIT_TEXT[unit]} (`factorial.unit={unit}`).")
    return pd.concat(parts, ignore_index=True)


def _intervals(report: Report, points: pd.DataFrame, confidence: float) -> None:
    """Each configuration's mean energy with its interval; says where none exists."""
    table = tables.energy_interval_table(points, confidence)
    report.table(
        "energy_intervals",
        table,
        f"Mean energy of each configuration with its {confidence:.0%} confidence interval "
        "(Student's t over the configuration's observations; `design.confidence`)",
    )
    alone = table[table["n"] < 2]
    if len(alone):
        report.missing(
            f"no interval for {len(alone)} configurations with a single observation "
            f"({', '.join(alone['config'].astype(str))}): an interval needs two."
        )


def _variation(report: Report, points: pd.DataFrame) -> None:
    cv = tables.energy_cv_table(points)
    report.table(
        "energy_cv",
        cv,
        "Coefficient of variation (sample std / mean) of energy across the observations of each "
        "configuration, and its accuracy",
    )
    fig, (ax,) = plots.panels(1, size=(6.4, 4.0))
    plots.cv_histogram(ax, cv, "group")
    report.figure(
        "energy_cv", fig, "Histogram of the energy CV of each configuration (Figure 3.7)"
    )


def _normality(report: Report, points: pd.DataFrame, settings: ReportConfig) -> None:
    min_n = settings.guards.normality_min_n
    shapiro = tables.shapiro_table(points, settings.alpha, min_n)
    report.table(
        "shapiro_wilk",
        shapiro,
        f"Shapiro–Wilk test of energy per configuration, per dataset (α = {settings.alpha:g})",
    )
    withheld = int((shapiro["normal"] == "withheld").sum())
    if withheld:
        report.missing(
            f"Shapiro–Wilk withheld for {withheld} of {len(shapiro)} configurations with fewer "
            f"than {min_n} observations."
        )
    qq = tables.qq_table(points, min_n)
    if qq.empty:
        report.missing(
            f"no Q–Q plot: it needs at least {min_n} observations per configuration "
            "(`guards.normality_min_n`)."
        )
        return
    groups = list(dict.fromkeys(qq["group"]))
    fig, axes = plots.panels(len(groups), cols=2, size=(5.6, 4.4))
    for ax, group in zip(axes, groups, strict=True):
        plots.qq(ax, qq[qq["group"] == group])
        ax.set_title(group)
    report.figure("qq_energy", fig, "Normal Q–Q plot of each configuration's standardised energy")


def _differences(
    report: Report, points: pd.DataFrame, settings: ReportConfig, thesis: bool
) -> None:
    min_n = settings.guards.effect_min_n
    confidence = settings.design.confidence
    kruskal = tables.kruskal_table(points, min_n, confidence)
    report.table(
        "kruskal_wallis",
        kruskal,
        f"Kruskal–Wallis test of energy per {'layer ' if thesis else ''}factor, per dataset "
        f"(Table 3.4); η² = (H − k + 1)/(n − k), with its {confidence:.0%} percentile "
        "bootstrap interval (`eta2_ci_low`, `eta2_ci_high`: observations resampled within "
        "each level, 999 resamples, seed 0)",
    )
    apart = kruskal[kruskal["eta2_ci_low"] == kruskal["eta2_ci_high"]]
    if len(apart):
        report.text(
            f"η²'s interval has no width for {', '.join(apart['factor'].astype(str))}: the "
            "levels' observations do not overlap, so no resample changes their ranks (a "
            "bootstrap over observations cannot show more uncertainty than that)."
        )
    if (kruskal["magnitude"] == "withheld").any():
        report.missing(
            f"η² magnitude labels withheld where a factor level has fewer than {min_n} "
            "observations (`n_smallest`): the chi-square approximation of H is not to be "
            "trusted on so few."
        )
    p_adjust = settings.posthoc.p_adjust
    report.table(
        "dunn",
        tables.dunn_table(points, p_adjust),
        f"Dunn's pairwise comparisons of energy, p adjusted with {p_adjust}",
    )
    report.table(
        "energy_increase",
        tables.increase_table(points),
        "Mean energy at each factor level against its lowest level, per dataset",
    )


def _clusters(report: Report, points: pd.DataFrame, method: str) -> None:
    clustered = tables.assign_clusters(points, method)
    report.table(
        "clusters",
        tables.cluster_table(clustered),
        "E+ and E− clusters of configurations: energy and accuracy (Table 3.5)",
    )
    groups = list(dict.fromkeys(clustered["group"]))
    fig, axes = plots.panels(len(groups), cols=2, size=(5.6, 4.2))
    for ax, group in zip(axes, groups, strict=True):
        g = clustered[clustered["group"] == group]
        plots.energy_accuracy(ax, g, float(g["threshold_j"].iloc[0]))
        ax.set_title(group)
    report.figure(
        "energy_accuracy",
        fig,
        "Energy against accuracy, energy axis reversed; dotted: cluster threshold between the "
        "configurations' mean energies (Figure 3.8)",
    )
