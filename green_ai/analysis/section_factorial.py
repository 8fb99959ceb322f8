"""report.md's architecture-factorial section (thesis §3.5.2): CV, normality, Kruskal–Wallis
with η², Dunn's post-hoc tests, mean increases and the E+/E− clusters."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from green_ai.analysis import factorial_tables as tables
from green_ai.analysis import plots
from green_ai.analysis.markdown import Report
from green_ai.config.report import ReportConfig

CLUSTER_TEXT = {
    "kmeans": "k-means with k = 2 on energy, solved exactly in one dimension (the split of the "
    "sorted energies with the least within-cluster sum of squares) — it follows the gap the "
    "thesis saw between architectures without forcing two equal halves, as a median split "
    "would.",
    "median": "split at the median energy (two halves of equal size).",
}

_Groups = list[tuple[tables.Factorial, pd.DataFrame]]


def factorial_section(
    report: Report,
    rounds: pd.DataFrame,
    rep_metrics: Callable[[list[str]], pd.DataFrame],
    factorials: list[tables.Factorial],
    settings: ReportConfig,
) -> None:
    report.heading("Architecture factorial (thesis §3.5.2, Tables 3.4, 3.5, Figures 3.7, 3.8)")
    if not factorials:
        report.missing(
            "no architecture factorial (studies of one network, dataset and search over two or "
            "more linear/conv/relu combinations)."
        )
        return
    groups = _observations(report, rounds, rep_metrics, factorials, settings.factorial.unit)
    if not groups:
        return
    _unit_text(report, groups, settings)
    _variation(report, groups, settings.factorial.unit)
    _normality(report, groups, settings.alpha)
    _differences(report, groups, settings.posthoc.p_adjust)
    _clusters(report, groups, settings.clusters.method)


def _observations(
    report: Report,
    rounds: pd.DataFrame,
    rep_metrics: Callable[[list[str]], pd.DataFrame],
    factorials: list[tables.Factorial],
    unit: str,
) -> _Groups:
    groups = []
    for f in factorials:
        if unit == "round":
            points = tables.factorial_points(rounds, f.studies)
        else:
            ids = rounds[rounds["study_name"].isin(f.studies["study_name"])]["run_id"].tolist()
            points = tables.factorial_points(rounds, f.studies, rep_metrics(ids))
        no_energy = f.studies[f.studies["energy_metric"] == "none"]["study_name"]
        if len(no_energy):
            report.missing(
                f"{f.label}: {len(no_energy)} studies have rounds without energy "
                f"({', '.join(no_energy)}); they are left out."
            )
        points = points[~points["study_name"].isin(no_energy)].dropna(subset=["energy_j"])
        if points["config"].nunique() < 2:
            report.missing(f"{f.label}: fewer than two configurations with energy; no statistics.")
            continue
        groups.append((f, points))
    return groups


def _unit_text(report: Report, groups: _Groups, settings: ReportConfig) -> None:
    unit = settings.factorial.unit
    metrics = sorted(set(pd.concat([f.studies for f, _ in groups])["energy_metric"]))
    if unit == "repetition":
        sources = "energy: `rep_energy_j` (gross, idle included), accuracy: `rep_accuracy`"
    else:
        sources = "energy: " + ", ".join(f"`{m}`" for m in metrics) + ", accuracy: `accuracy`"
    report.text(
        f"Unit of analysis: one {unit} ({sources}). Normality at α = {settings.alpha:g}; "
        f"Dunn's post-hoc p-values adjusted with `{settings.posthoc.p_adjust}` within each "
        f"factor. Clusters: {CLUSTER_TEXT[settings.clusters.method]}"
    )


def _grouped(frames: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """One table of every factorial's rows, the factorial's label first as `group`."""
    table = pd.concat([frame.assign(group=label) for label, frame in frames])
    return table[["group", *[c for c in table.columns if c != "group"]]]


def _variation(report: Report, groups: _Groups, unit: str) -> None:
    cv = _grouped([(f.label, tables.energy_cv_table(p)) for f, p in groups])
    report.table(
        "energy_cv",
        cv,
        f"Coefficient of variation (sample std / mean) of energy across the {unit}s of each "
        "configuration",
    )
    fig, (ax,) = plots.panels(1, size=(6.4, 4.0))
    plots.cv_histogram(ax, cv, "group")
    report.figure(
        "energy_cv", fig, "Histogram of the energy CV of each configuration (Figure 3.7)"
    )


def _normality(report: Report, groups: _Groups, alpha: float) -> None:
    shapiro = _grouped([(f.label, tables.shapiro_table(p, alpha)) for f, p in groups])
    report.table("shapiro_wilk", shapiro, "Shapiro–Wilk test of energy per configuration")
    fig, axes = plots.panels(len(groups), cols=2, size=(5.6, 4.4))
    for ax, (f, p) in zip(axes, groups, strict=True):
        plots.qq(ax, tables.qq_table(p))
        ax.set_title(f.label)
    report.figure("qq_energy", fig, "Normal Q–Q plot of each configuration's standardised energy")


def _differences(report: Report, groups: _Groups, p_adjust: str) -> None:
    for f, p in groups:
        name = "kruskal_wallis" if len(groups) == 1 else f"kruskal_wallis_{f.slug}"
        report.table(
            name,
            tables.kruskal_table(p),
            f"Kruskal–Wallis test of energy per layer factor, {f.label} (Table 3.4); "
            "η² = (H − k + 1)/(n − k)",
        )
    report.table(
        "dunn",
        _grouped([(f.label, tables.dunn_table(p, p_adjust)) for f, p in groups]),
        f"Dunn's pairwise comparisons of energy, p adjusted with {p_adjust}",
    )
    report.table(
        "energy_increase",
        _grouped([(f.label, tables.increase_table(p)) for f, p in groups]),
        "Mean energy at each factor level against its lowest level",
    )


def _clusters(report: Report, groups: _Groups, method: str) -> None:
    clustered = [(f.label, *tables.assign_clusters(p, method)) for f, p in groups]
    report.table(
        "clusters",
        _grouped(
            [(label, tables.cluster_table(p).assign(threshold_j=t)) for label, p, t in clustered]
        ),
        "E+ and E− clusters: energy and accuracy (Table 3.5)",
    )
    fig, axes = plots.panels(len(clustered), cols=2, size=(5.6, 4.2))
    for ax, (label, p, t) in zip(axes, clustered, strict=True):
        plots.energy_accuracy(ax, p, t)
        ax.set_title(label)
    report.figure(
        "energy_accuracy",
        fig,
        "Energy against accuracy, energy axis reversed; dotted: cluster threshold (Figure 3.8)",
    )
