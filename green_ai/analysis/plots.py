"""Figures of the report: each function draws precomputed data on an Axes and returns it.

Nothing is computed here (the statistics are in `stats.py` and `tables.py`); sizes and fonts
are chosen so a figure stays legible at the 100% width report.md embeds it at.
"""

from __future__ import annotations

from numbers import Real
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _style() -> None:
    """Fonts legible at 100% width in report.md; grids to read values off."""
    matplotlib.rc("font", size=11)
    matplotlib.rc("axes", titlesize=12, labelsize=11, grid=True)
    matplotlib.rc("legend", fontsize=9)
    matplotlib.rc("grid", alpha=0.3)


def panels(
    n: int, *, cols: int = 3, size: tuple[float, float] = (4.6, 3.6)
) -> tuple[Figure, list[Axes]]:
    """A figure of n panels, at most `cols` a row; unused cells removed."""
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    # Fonts are read when each label is made, so the style must outlive this call.
    _style()
    fig, grid = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def convergence(
    ax: Axes,
    curves: pd.DataFrame,
    labels: dict[str, str],
    x: str,
    ylabel: str = "best test accuracy so far",
    *,
    maximize: bool = True,
) -> Axes:
    """Best-so-far value per study against rounds or cumulative joules (Figs. 3.3–3.6)."""
    for study, c in curves.groupby("study_name", sort=True):
        xs = c["n"] if x == "round" else c["cumulative_energy_j"]
        ax.step(xs, c["best_so_far"], where="post", label=labels.get(str(study), str(study)))
    ax.set_xlabel("round" if x == "round" else "cumulative energy (J)")
    ax.set_ylabel(ylabel)
    # Curves rise when maximised and fall when minimised: the legend goes where they are not.
    ax.legend(loc="lower right" if maximize else "upper right")
    return ax


def cv_histogram(ax: Axes, cv: pd.DataFrame, by: str) -> Axes:
    """Histogram of energy CVs, one colour per group (Figure 3.7)."""
    groups = [(str(k), g["cv"].dropna().to_numpy()) for k, g in cv.groupby(by, sort=True)]
    values = np.concatenate([v for _, v in groups]) if groups else np.array([])
    bins = list(np.histogram_bin_edges(values, bins=min(10, max(3, values.size))))
    ax.hist([v for _, v in groups], bins=bins, stacked=True, label=[k for k, _ in groups])
    ax.set_xlabel("coefficient of variation of energy (std / mean)")
    ax.set_ylabel("configurations")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(groups) > 1:
        ax.legend()
    return ax


def qq(ax: Axes, points: pd.DataFrame) -> Axes:
    """Normal Q–Q plot of standardised energies, one series per configuration."""
    for config, g in points.groupby("config", sort=True):
        ax.plot(g["theoretical"], g["sample"], "o", ms=4, alpha=0.8, label=str(config))
    lim = float(np.nanmax(np.abs(points[["theoretical", "sample"]].to_numpy()))) * 1.05
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1)
    ax.set_xlabel("theoretical normal quantile")
    ax.set_ylabel("standardised energy quantile")
    ax.legend(fontsize=7, ncol=2)
    return ax


def energy_accuracy(ax: Axes, points: pd.DataFrame, threshold: float) -> Axes:
    """Energy against accuracy, energy axis reversed as in Figure 3.8, clusters coloured."""
    colours = {"E+": "tab:red", "E-": "tab:blue"}
    for cluster in ("E+", "E-"):
        g = points[points["cluster"] == cluster]
        if len(g):
            ax.scatter(
                g["energy_j"],
                g["accuracy"],
                s=18,
                alpha=0.7,
                c=colours[cluster],
                label=cluster.replace("-", "\u2212"),
            )
    if np.isfinite(threshold):
        ax.axvline(threshold, color="grey", ls=":", lw=1)
    ax.invert_xaxis()
    ax.set_xlabel("energy (J), reversed")
    ax.set_ylabel("test accuracy")
    ax.legend()
    return ax


def energy_latency(ax: Axes, points: pd.DataFrame) -> Axes:
    """Energy per image against maximum response time, one series per frequency (Fig. 4.2)."""
    for freq, g in points.groupby("frequency", sort=True):
        ax.plot(g["energy_per_image_j"], g["response_max_s"], "o", label=f"f={freq:g}/s")
        for _, row in g.iterrows():
            ax.annotate(
                str(row["batch_label"]),
                (row["energy_per_image_j"], row["response_max_s"]),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=8,
            )
    response = points["response_max_s"].dropna()
    if len(response) and response.min() > 0 and response.max() / response.min() > 50:
        ax.set_yscale("log")
    ax.set_xlabel("energy per image (J)")
    ax.set_ylabel("maximum response time (s)")
    ax.legend(fontsize=8)
    return ax


def timeline(ax: Axes, table: pd.DataFrame) -> Axes:
    """Mean energy per image per model, oldest first, a bar per frequency (Figure 4.3)."""
    models = list(dict.fromkeys(table["model"]))
    freqs = sorted(table["frequency"].unique())
    width = 0.8 / max(1, len(freqs))
    x = np.arange(len(models))
    for i, f in enumerate(freqs):
        g = table[table["frequency"] == f].set_index("model").reindex(models)
        ax.bar(
            x + (i - (len(freqs) - 1) / 2) * width,
            g["energy_per_image_j"],
            width,
            label=f"f={f:g}/s",
        )
    years = table.drop_duplicates("model").set_index("model")["year"]
    ax.set_xticks(x, [_model_tick(m, years.get(m)) for m in models], rotation=20, ha="right")
    ax.set_ylabel("mean energy per image (J)")
    ax.legend(fontsize=8)
    return ax


def relative_change(ax: Axes, table: pd.DataFrame) -> Axes:
    """Change in energy per image and ImageNet top-1 against the baseline model (Fig. 4.4)."""
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["energy_change_pct"], 0.4, label="energy per image", color="tab:red")
    ax.bar(x + 0.2, table["accuracy_change_pct"], 0.4, label="ImageNet top-1", color="tab:green")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(
        x,
        [_model_tick(m, y) for m, y in zip(table["model"], table["year"], strict=True)],
        rotation=20,
        ha="right",
    )
    ax.set_ylabel(f"change against {table['baseline'].iloc[0]} (%)")
    ax.legend(fontsize=8)
    return ax


def _model_tick(model: str, year: object) -> str:
    if isinstance(year, Real) and not np.isnan(float(year)):
        return f"{model}\n({int(float(year))})"
    return model


def drift_scatter(ax: Axes, x: pd.Series, y: pd.Series, xlabel: str) -> Axes:
    """Each round's energy relative to its study's mean against `x` (a position in the sweep,
    a start temperature): a drift shows as a slope."""
    ax.scatter(x, y, s=14, alpha=0.7)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("energy / study mean")
    return ax
