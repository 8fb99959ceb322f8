"""`report.md` with every table (also as CSV) and figure (also as PNG) of one experiment.

Sections follow the thesis: search strategies (§3.5.1), architecture factorial (§3.5.2),
inference (§4.4). A section without data says what is missing instead of drawing empty axes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from green_ai.analysis import plots, tables
from green_ai.analysis.load import Runs, metric_steps
from green_ai.config.report import ReportConfig

log = logging.getLogger(__name__)

LONG_TABLE_ROWS = 30  # longer tables are folded in report.md


class Report:
    """Collects markdown; writes each table and figure next to it as it goes."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.lines: list[str] = []
        self.files: list[str] = []
        out_dir.mkdir(parents=True, exist_ok=True)

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += ["#" * level + " " + text, ""]

    def text(self, text: str) -> None:
        self.lines += [text, ""]

    def missing(self, text: str) -> None:
        self.lines += [f"> **Missing:** {text}", ""]

    def table(self, name: str, frame: pd.DataFrame, caption: str) -> None:
        path = self.out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        self.files.append(path.name)
        self.lines += [f"**{caption}** ([{path.name}]({path.name}))", ""]
        body = markdown_table(frame)
        if len(frame) > LONG_TABLE_ROWS:
            body = [f"<details><summary>{len(frame)} rows</summary>", "", *body, "", "</details>"]
        self.lines += [*body, ""]

    def figure(self, name: str, fig: plots.Figure, caption: str) -> None:
        path = self.out_dir / f"{name}.png"
        plots.save(fig, path)
        self.files.append(path.name)
        self.lines += [f"![{caption}]({path.name})", "", f"*{caption}*", ""]

    def write(self) -> Path:
        path = self.out_dir / "report.md"
        path.write_text("\n".join(self.lines).rstrip() + "\n", encoding="utf-8")
        return path


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """A GitHub-flavoured markdown table; numbers to 4 significant digits, missing as –."""
    if frame.empty:
        return ["(no rows)"]
    # A "|" inside a cell would end it; missing values (None) print as missingval.
    cells = frame.map(lambda v: v.replace("|", "\\|") if isinstance(v, str) else v)
    cells = cells.astype(object).where(frame.notna(), None)
    text = cells.to_markdown(index=False, floatfmt=".4g", missingval="–")
    return str(text).splitlines()


def write_report(runs: Runs, settings: ReportConfig, out_dir: Path) -> Path:
    """Write report.md, its CSVs and PNGs into `out_dir` and return report.md's path."""
    report = Report(out_dir)
    report.heading(f"Report of experiment `{runs.experiment}`", level=1)
    if runs.studies.empty and runs.inference.empty and not runs.untagged:
        report.missing(
            "the experiment has no runs yet: run `python -m green_ai.train` or "
            "`python -m green_ai.infer` with this experiment first."
        )
        return report.write()
    report.text(
        f"{len(runs.studies)} training studies ({len(runs.rounds)} rounds), "
        f"{len(runs.inference)} inference runs."
        + (
            f" {runs.untagged} runs without a `green_ai.kind` tag are left out."
            if runs.untagged
            else ""
        )
    )
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
    rounds, energy_info = tables.with_round_energy(runs.rounds, settings.energy_metric)
    studies = runs.studies.merge(energy_info, on="study_name", how="left")
    studies["energy_metric"] = studies["energy_metric"].fillna("none")
    search_studies, factorials = tables.split_kinds(studies)
    _search_section(report, rounds, search_studies, settings)
    _factorial_section(report, rounds, factorials, settings)
    _inference_section(report, runs, settings)
    path = report.write()
    log.info("wrote %s and %d files", path, len(report.files))
    return path


# --- search strategies -----------------------------------------------------------------------


def _search_section(
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
    labels = _line_labels(studies)
    metered = studies[studies["energy_metric"] != "none"]
    unmetered = studies[studies["energy_metric"] == "none"]
    if len(unmetered):
        report.missing(
            f"{len(unmetered)} of {len(studies)} search studies have rounds without energy "
            f"({', '.join(unmetered['study_name'])}): left out of the energy figures and table."
        )
    metric_note = ", ".join(sorted(set(metered["energy_metric"])))
    for (dataset, hparams), group in studies.groupby(["dataset", "hparams"], sort=True):
        slug = f"{tables._slug(str(dataset))}_{tables._slug(str(hparams))}"
        _convergence_figure(
            report,
            curves,
            group,
            labels,
            "round",
            f"convergence_rounds_{slug}",
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
                f"convergence_energy_{slug}",
                f"Best-so-far accuracy against cumulative energy ({metric_note}), {dataset}, "
                f"search space {hparams}",
            )
    if len(metered):
        pct = settings.target_pct
        report.table(
            "energy_to_target",
            tables.energy_to_target_table(curves, metered, pct),
            f"Energy ({metric_note}) each search spent until its accuracy came within {pct:g}% "
            "(relative) of its final best; failed rounds count",
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
    shown = [f for f in tables.FACTORS if studies[f].nunique() > 1]
    fig, axes = plots.panels(nets.ngroups)
    for ax, ((net, conv, linear, relu), s) in zip(axes, nets, strict=True):
        plots.convergence(ax, curves[curves["study_name"].isin(s["study_name"])], labels, x)
        counts = {"conv": conv, "linear": linear, "relu": relu}
        extra = " ".join(f"{f}={tables._int(counts[f])}" for f in shown)
        ax.set_title(f"{net} ({extra})" if extra else str(net))
    report.figure(name, fig, caption)


# --- architecture factorial ------------------------------------------------------------------


def _factorial_section(
    report: Report,
    rounds: pd.DataFrame,
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
    unit = settings.factorial.unit
    alpha = settings.alpha
    p_adjust = settings.posthoc.p_adjust
    method = settings.clusters.method
    groups: list[tuple[tables.Factorial, pd.DataFrame]] = []
    for f in factorials:
        points = _factorial_points(rounds, f, unit)
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
    if not groups:
        return
    metrics = sorted(set(pd.concat([f.studies for f, _ in groups])["energy_metric"]))
    if unit == "repetition":
        sources = "energy: `rep_energy_j` (gross, idle included), accuracy: `rep_accuracy`"
    else:
        sources = "energy: " + ", ".join(f"`{m}`" for m in metrics) + ", accuracy: `accuracy`"
    report.text(
        f"Unit of analysis: one {unit} ({sources}). Normality at α = {alpha:g}; Dunn's "
        f"post-hoc p-values adjusted with `{p_adjust}` within each factor. "
        f"Clusters: {_cluster_method_text(method)}"
    )
    _labelled = [(f.label, p) for f, p in groups]

    cv = pd.concat([tables.energy_cv_table(p).assign(group=label) for label, p in _labelled])
    cv = cv[["group", *[c for c in cv.columns if c != "group"]]]
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

    shapiro = pd.concat(
        [tables.shapiro_table(p, alpha).assign(group=label) for label, p in _labelled]
    )
    report.table(
        "shapiro_wilk",
        shapiro[["group", "config", "n", "W", "p", "normal"]],
        "Shapiro–Wilk test of energy per configuration",
    )
    fig, axes = plots.panels(len(groups), cols=2, size=(5.6, 4.4))
    for ax, (label, p) in zip(axes, _labelled, strict=True):
        plots.qq(ax, tables.qq_table(p))
        ax.set_title(label)
    report.figure("qq_energy", fig, "Normal Q–Q plot of each configuration's standardised energy")

    for f, p in groups:
        name = "kruskal_wallis" if len(groups) == 1 else f"kruskal_wallis_{f.slug}"
        report.table(
            name,
            tables.kruskal_table(p),
            f"Kruskal–Wallis test of energy per layer factor, {f.label} (Table 3.4); "
            "η² = (H − k + 1)/(n − k)",
        )

    dunn = pd.concat(
        [tables.dunn_table(p, p_adjust).assign(group=label) for label, p in _labelled]
    )
    report.table(
        "dunn",
        dunn[["group", *[c for c in dunn.columns if c != "group"]]],
        f"Dunn's pairwise comparisons of energy, p adjusted with {p_adjust}",
    )

    increase = pd.concat([tables.increase_table(p).assign(group=label) for label, p in _labelled])
    report.table(
        "energy_increase",
        increase[["group", *[c for c in increase.columns if c != "group"]]],
        "Mean energy at each factor level against its lowest level",
    )

    clustered = [(label, *tables.assign_clusters(p, method)) for label, p in _labelled]
    clusters = pd.concat(
        [tables.cluster_table(p).assign(group=label, threshold_j=t) for label, p, t in clustered]
    )
    report.table(
        "clusters",
        clusters[["group", *[c for c in clusters.columns if c != "group"]]],
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


def _cluster_method_text(method: str) -> str:
    if method == "kmeans":
        return (
            "k-means with k = 2 on energy, solved exactly in one dimension (the split of the "
            "sorted energies with the least within-cluster sum of squares) — it follows the gap "
            "the thesis saw between architectures without forcing two equal halves, as a "
            "median split would."
        )
    return "split at the median energy (two halves of equal size)."


def _factorial_points(rounds: pd.DataFrame, f: tables.Factorial, unit: str) -> pd.DataFrame:
    if unit == "round":
        return tables.factorial_points(rounds, f.studies)
    run_ids = rounds[rounds["study_name"].isin(f.studies["study_name"])]["run_id"].tolist()
    reps = metric_steps(run_ids, ("rep_energy_j", "rep_accuracy"))
    return tables.factorial_points(rounds, f.studies, reps)


# --- inference ---------------------------------------------------------------------------------


def _inference_section(report: Report, runs: Runs, settings: ReportConfig) -> None:
    report.heading("Inference (thesis §4.4, Table 4.1, Figures 4.2–4.4)")
    if runs.inference.empty:
        report.missing("no inference runs: run `python -m green_ai.infer` with this experiment.")
        return
    points = tables.inference_points(runs.inference)
    report.table(
        "inference_runs",
        points,
        "Inference runs: energy per image (idle included), maximum response time, mean peak "
        "power per batch",
    )
    without = points[points["energy_per_image_j"].isna()]
    if len(without):
        report.missing(
            f"{len(without)} of {len(points)} inference runs have no `energy_per_image_j` "
            "(no energy meter): left out of the energy figures."
        )
    measured = points.dropna(subset=["energy_per_image_j"])
    if measured.empty:
        return
    models = list(dict.fromkeys(measured["model"]))
    fig, axes = plots.panels(len(models), cols=2, size=(5.6, 4.2))
    for ax, model in zip(axes, models, strict=True):
        plots.energy_latency(ax, measured[measured["model"] == model])
        ax.set_title(model)
    report.figure(
        "energy_latency",
        fig,
        "Energy per image against maximum response time; labels: batch size, G = greedy "
        "(Figure 4.2)",
    )

    peak_power = settings.peak_power
    peak = tables.peak_power_table(points, peak_power.small_max_batch, peak_power.large_min_batch)
    if peak.empty:
        report.missing("no run logged `power_peak_w_mean`: no peak power table.")
    else:
        report.table(
            "peak_power",
            peak,
            "Mean peak power per batch at small and large batch sizes (Table 4.1)",
        )

    timeline = tables.timeline_table(measured)
    report.table(
        "energy_timeline",
        timeline,
        "Mean energy per image per model and frequency, models in publication order (§4.3.2)",
    )
    fig, (ax,) = plots.panels(1, size=(max(6.4, 1.3 * len(models) + 2), 4.2))
    plots.timeline(ax, timeline)
    report.figure(
        "energy_timeline", fig, "Mean energy per image per model, oldest first (Figure 4.3)"
    )

    change = tables.relative_change_table(timeline, settings.baseline_model)
    report.table(
        "relative_change",
        change,
        "Energy per image and ImageNet-1K top-1 (torchvision weight metadata) against the "
        "baseline model (Figure 4.4)",
    )
    if len(change) > 1:
        fig, (ax,) = plots.panels(1, size=(max(6.4, 1.3 * len(change) + 2), 4.2))
        plots.relative_change(ax, change)
        report.figure(
            "relative_change",
            fig,
            f"Change in energy per image and ImageNet top-1 against {change['baseline'].iloc[0]} "
            "(Figure 4.4)",
        )
