"""report.md's markdown tables (pandas' to_markdown)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from green_ai.analysis.markdown import markdown_table


def test_markdown_table_formats_numbers_missing_values_and_pipes() -> None:
    frame = pd.DataFrame(
        {"x": [1.23456, np.nan, 2e-5], "label": ["a|b", None, "c"], "n": [1, 2, 3]}
    )
    lines = markdown_table(frame)
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["x", "label", "n"]
    assert "1.235" in lines[2] and "a\\|b" in lines[2]
    assert lines[3].count("–") == 2
    assert "2e-05" in lines[4]
    assert markdown_table(pd.DataFrame()) == ["(no rows)"]
