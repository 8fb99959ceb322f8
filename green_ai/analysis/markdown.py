"""report.md as it is written: markdown lines, each table saved as CSV and each figure as PNG
next to it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from green_ai.analysis import plots

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
