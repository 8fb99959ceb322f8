"""report.md's section on the measurement design (thesis §3.7.1, §4.6.1): whether energy
drifts with the position in the sweep or the device's start temperature, and where no
interval of a round's energy exists.

A drift is tested on each round's energy relative to its own study's mean, so that the
configurations' differences do not pass for one: Spearman's rank correlation with the
variable, significant below `alpha`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from green_ai.analysis import plots, stats
from green_ai.analysis.markdown import Report
from green_ai.config.report import ReportConfig

# Round metrics a drift is looked for against, and what report.md calls them.
DRIFT_VARIABLES = {
    "sweep_position": "position in the sweep (`sweep_position`)",
    "start_order": "the order the rounds started in (their runs' start times)",
    "temp_c_start": "the device's temperature at the round's start (`temp_c_start`, °C)",
}
DRIFT_COLUMNS = ["against", "n", "rho", "p", "significant"]
# What a significant drift means for the factorial, by what it was found against.
DRIFT_ADVICE = {
    "sweep_position": "The sweep's run order (`design.order`) spread it over the cells instead "
    "of confounding it with one of them.",
    "start_order": "Where cells ran one after another, each cell's rounds share one stretch of "
    "it, so it is confounded with the factors: `design.order=randomized` spreads it over them.",
    "temp_c_start": "Warmer rounds cost differently: where cells ran one after another, this "
    "is confounded with the factors (`design.order=randomized` spreads it over them).",
}


def design_section(
    report: Report, rounds: pd.DataFrame, studies: pd.DataFrame, settings: ReportConfig
) -> None:
    """Say where rounds ran one repetition; test and plot drifts where the runs have the
    metrics (nothing is said of them otherwise)."""
    single = _single_repetition(studies)
    present = [c for c in DRIFT_VARIABLES if c in rounds.columns and rounds[c].notna().any()]
    if "sweep_position" in present and "start_order" in present:
        present.remove("start_order")  # the sweep's own order says it better
    if not present and not single:
        return
    report.heading("Measurement design (thesis §3.7.1, §4.6.1)")
    if single:
        report.missing(
            f"{len(single)} studies ran one repetition per round ({', '.join(single)}): no "
            "confidence interval of a round's mean energy exists for them (it needs two)."
        )
    if not present:
        return
    done = _relative_energy(rounds)
    _heating(report, done, settings.alpha)
    table = drift_table(done, present, settings.alpha)
    report.table(
        "energy_drift",
        table,
        "Spearman's rank correlation of each round's energy (relative to its study's mean) "
        f"with where and when it ran; significant at α = {settings.alpha:g}",
    )
    for row in table.itertuples(index=False):
        report.text(drift_sentence(row, settings.alpha))
    fig, axes = plots.panels(len(present), cols=2, size=(5.6, 4.0))
    for ax, column in zip(axes, present, strict=True):
        plots.drift_scatter(ax, done[column], done["relative_energy"], column)
    report.figure(
        "energy_drift",
        fig,
        "Each round's energy relative to its study's mean against "
        + " and ".join(DRIFT_VARIABLES[c] for c in present),
    )


def _single_repetition(studies: pd.DataFrame) -> list[str]:
    if "repetitions" not in studies.columns:
        return []
    reps = pd.to_numeric(studies["repetitions"], errors="coerce")
    return sorted(studies.loc[reps == 1, "study_name"].astype(str))


def _relative_energy(rounds: pd.DataFrame) -> pd.DataFrame:
    """Completed rounds with energy, each as a share of its study's mean energy."""
    done = rounds[(rounds["state"] == "COMPLETE") & rounds["energy"].notna()].copy()
    mean = done.groupby("study_name")["energy"].transform("mean")
    done["relative_energy"] = np.where(mean > 0, done["energy"] / mean, np.nan)
    return done


def drift_table(done: pd.DataFrame, present: list[str], alpha: float) -> pd.DataFrame:
    rows = []
    for column in present:
        rho, p, n = stats.drift(done[column], done["relative_energy"])
        significant = "n/a" if np.isnan(p) else ("yes" if p < alpha else "no")
        rows.append({"against": column, "n": n, "rho": rho, "p": p, "significant": significant})
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


def drift_sentence(row: tuple, alpha: float) -> str:
    """What a drift row means, in words."""
    against, n, rho, p, significant = row
    what = DRIFT_VARIABLES[against]
    if significant == "n/a":
        return f"Energy against {what}: too few distinct values to test a drift ({n} rounds)."
    if significant == "yes":
        way = "rises" if rho > 0 else "falls"
        return (
            f"**Energy drifts**: it {way} with {what} (Spearman ρ = {rho:.2f}, p = {p:.2g}, "
            f"{n} rounds; significant at α = {alpha:g}). {DRIFT_ADVICE[against]}"
        )
    return (
        f"No significant drift of energy with {what} (Spearman ρ = {rho:.2f}, p = {p:.2g}, "
        f"{n} rounds)."
    )


def _heating(report: Report, done: pd.DataFrame, alpha: float) -> None:
    """Whether the device's start temperature rises over the sweep (or a study's rounds)."""
    if "temp_c_start" not in done.columns or done["temp_c_start"].isna().all():
        return
    order = next(
        (c for c in ("sweep_position", "start_order") if c in done and done[c].notna().any()),
        "round",
    )
    rho, p, n = stats.drift(done[order], done["temp_c_start"])
    if np.isnan(p):
        return
    temps = done.sort_values(order)["temp_c_start"].dropna()
    span = f"from {temps.iloc[0]:.0f} °C to {temps.iloc[-1]:.0f} °C"
    if p < alpha and rho > 0:
        report.text(
            f"**The device heats up**: `temp_c_start` rises over the rounds ({span}; Spearman "
            f"ρ = {rho:.2f} against `{order}`, p = {p:.2g}, {n} rounds)."
        )
    else:
        report.text(
            f"`temp_c_start` shows no significant trend over the rounds ({span}; ρ = "
            f"{rho:.2f}, p = {p:.2g})."
        )
