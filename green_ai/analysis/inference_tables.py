"""Tables of the inference study (thesis §4.4): Table 4.1 and Figures 4.2–4.4."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import stats
from green_ai.analysis.model_info import imagenet_top1, publication_order, publication_year
from green_ai.analysis.runs import level_label


def inference_points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run with its batch label (G for greedy, as Figure 4.2 labels points)."""
    frame = runs.copy()
    greedy = frame["batching"].astype(str).str.lower() == "greedy"
    frame["batch_label"] = [
        _batch_label(str(b), size, delay)
        for b, size, delay in zip(
            frame["batching"], frame["batch_size"], frame["max_delay_s"], strict=True
        )
    ]
    # Mean batch size where logged; the fixed size otherwise.
    frame["batch_effective"] = frame["batch_size_mean"].fillna(frame["batch_size"].where(~greedy))
    order = {m: i for i, m in enumerate(publication_order(sorted(frame["model"].unique())))}
    frame["_order"] = frame["model"].map(order)
    frame = frame.sort_values(["_order", "frequency", "batch_effective"]).drop(columns="_order")
    columns = [
        "model",
        "frequency",
        "batching",
        "batch_label",
        "batch_effective",
        "energy_per_image_j",
        "response_max_s",
        "power_peak_w_mean",
        "run_id",
    ]
    return frame[columns].reset_index(drop=True)


def _batch_label(batching: str, size: object, delay: object) -> str:
    """Figure 4.2's point labels: the batch size, G for greedy; timeout adds its delay."""
    if batching.lower() == "greedy":
        return "G"
    if batching.lower() == "timeout":
        return f"{level_label(size)}/{level_label(delay)}s"
    return level_label(size)


def peak_power_table(points: pd.DataFrame, small_max: float, large_min: float) -> pd.DataFrame:
    """Table 4.1: mean peak power at small against large batches, per model.

    Small: runs whose mean batch is at most `small_max` (1–2 in the thesis), else the model's
    smallest; large: at least `large_min` (128), else its largest. The batch sizes used are in
    the table.
    """
    rows = []
    for model in publication_order(sorted(points["model"].unique())):
        g = points[(points["model"] == model) & points["power_peak_w_mean"].notna()]
        g = g[g["batch_effective"].notna()]
        if g.empty:
            continue
        b = g["batch_effective"]
        small = g[b <= small_max] if (b <= small_max).any() else g[b == b.min()]
        large = g[b >= large_min] if (b >= large_min).any() else g[b == b.max()]
        sp, lp = float(small["power_peak_w_mean"].mean()), float(large["power_peak_w_mean"].mean())
        rows.append(
            {
                "model": model,
                "small_batch": _range(small["batch_effective"]),
                "small_peak_w": sp,
                "large_batch": _range(large["batch_effective"]),
                "large_peak_w": lp,
                "difference_pct": (lp / sp - 1.0) * 100.0 if sp else float("nan"),
            }
        )
    columns = ["model", "small_batch", "small_peak_w", "large_batch", "large_peak_w"]
    return pd.DataFrame(rows, columns=[*columns, "difference_pct"])


def _range(values: pd.Series) -> str:
    lo, hi = float(values.min()), float(values.max())
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g}-{hi:.4g}"


def timeline_table(points: pd.DataFrame) -> pd.DataFrame:
    """Figure 4.3: mean energy per image per model and frequency, models oldest first (§4.3.2)."""
    g = points.dropna(subset=["energy_per_image_j"])
    table = (
        g.groupby(["model", "frequency"])["energy_per_image_j"]
        .agg(["mean", "count"])
        .reset_index()
        .rename(columns={"mean": "energy_per_image_j", "count": "runs"})
    )
    order = {m: i for i, m in enumerate(publication_order(sorted(table["model"].unique())))}
    table["year"] = table["model"].map(publication_year)
    table = table.sort_values(["model"], key=lambda s: s.map(order), kind="stable")
    return table[["model", "year", "frequency", "runs", "energy_per_image_j"]].reset_index(
        drop=True
    )


def relative_change_table(timeline: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Figure 4.4: energy per image and ImageNet top-1 against a baseline model, in percent.

    A model's energy is the mean over frequencies of its per-frequency means, so each
    frequency weighs the same. The baseline is `baseline` if measured, else the oldest model.
    """
    per_model = timeline.groupby("model", sort=False)["energy_per_image_j"].mean()
    if per_model.empty:
        return pd.DataFrame()
    base = baseline if baseline in per_model.index else str(per_model.index[0])
    acc = pd.Series({m: imagenet_top1(m) for m in per_model.index})
    table = pd.DataFrame(
        {
            "model": per_model.index,
            "year": [publication_year(m) for m in per_model.index],
            "energy_per_image_j": per_model.to_numpy(),
            "energy_change_pct": stats.relative_change_pct(per_model, float(per_model[base])),
            "imagenet_top1": acc.to_numpy(),
            "accuracy_change_pct": stats.relative_change_pct(acc, float(acc[base])),
            "baseline": base,
        }
    )
    return table.reset_index(drop=True)
