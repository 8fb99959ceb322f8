"""Plain-text tables for the terminal: the sweep's summary and the inference console's."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def aligned(
    columns: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    right: Collection[str],
    rule: bool = False,
) -> str:
    """`cells` under their `columns`, each column padded to its widest cell: the `right`
    columns (figures) aligned right, the others left; with `rule`, dashes under the header."""
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if c in right else v.ljust(w)
            for c, v, w in zip(columns, values, widths, strict=True)
        ]
        return "  ".join(padded).rstrip()

    head = [line(columns)] + (["  ".join("-" * w for w in widths)] if rule else [])
    return "\n".join([*head, *(line(row) for row in cells)])
