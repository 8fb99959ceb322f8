"""The factorial's tables on small hand-made frames (no MLflow)."""

from __future__ import annotations

import pandas as pd

from green_ai.analysis import factorial_tables as tables


def study(
    name: str, net: str = "simplecnn", search: str = "random", **kw: object
) -> dict[str, object]:
    base = {"study_name": name, "net": net, "conv": 2, "linear": 3, "relu": 1}
    base |= {"dataset": "synthetic", "search": search, "hparams": "adam3", "epochs": 1}
    return base | {"batch_size": 128, "seed": 0} | kw


def test_split_kinds_tells_factorials_from_search_studies() -> None:
    studies = pd.DataFrame(
        [
            study("a", conv=1),
            study("b", conv=4),
            study("c", conv=4, dataset="cifar10"),  # alone on its dataset: not a factorial
            study("d", net="densepoly", search="grid"),
            study("e", net="densepoly", search="gp_pi"),
        ]
    )
    search, factorials = tables.find_factorials(studies)
    assert sorted(search["study_name"]) == ["c", "d", "e"]
    assert len(factorials) == 1
    assert sorted(factorials[0].studies["study_name"]) == ["a", "b"]


def test_two_factorials_are_named_by_what_differs() -> None:
    studies = pd.DataFrame(
        [
            study(n, conv=c, dataset=d)
            for n, c, d in [("a", 1, "x"), ("b", 4, "x"), ("c", 1, "y"), ("d", 4, "y")]
        ]
    )
    _, factorials = tables.find_factorials(studies)
    assert [f.slug for f in factorials] == ["x", "y"]
    assert [f.label for f in factorials] == ["dataset=x", "dataset=y"]
