"""report.md's inference section (thesis §4.4): the runs, energy against response time
(Figure 4.2), peak power (Table 4.1), the energy timeline (Figures 4.3, 4.4)."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import inference_tables as tables
from green_ai.analysis import plots
from green_ai.analysis.markdown import Report
from green_ai.config.report import ReportConfig


def inference_section(report: Report, runs: pd.DataFrame, settings: ReportConfig) -> None:
    report.heading("Inference (thesis §4.4, Table 4.1, Figures 4.2–4.4)")
    if runs.empty:
        report.missing("no inference runs: run `python -m green_ai.infer` with this experiment.")
        return
    points = tables.inference_points(runs)
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
    _energy_latency(report, measured)
    _peak_power(report, points, settings)
    _timeline(report, measured, settings.baseline_model)


def _energy_latency(report: Report, measured: pd.DataFrame) -> None:
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


def _peak_power(report: Report, points: pd.DataFrame, settings: ReportConfig) -> None:
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


def _timeline(report: Report, measured: pd.DataFrame, baseline: str) -> None:
    """Figures 4.3 and 4.4: energy per image by model, oldest first, and against a baseline."""
    timeline = tables.timeline_table(measured)
    models = timeline["model"].unique()
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

    change = tables.relative_change_table(timeline, baseline)
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
