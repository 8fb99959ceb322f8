"""Pruning: stop a round's training when it is clearly worse than earlier rounds (issue 14).

The thesis's lever against wasted joules is fewer rounds (§3.6.1); pruning is the other one:
a round whose test accuracy after a few epochs trails what earlier rounds had at that epoch
is stopped, and its remaining epochs and repetitions are never trained.

How repetitions take part: each round reports the test accuracy of its **first repetition**
after every epoch (Optuna step = 0-based epoch, the step of that epoch in MLflow's
`test_accuracy` history) and may be pruned only then. The repetitions of a round differ only
in their seed, so the first one's curve is a fair sample of the round's; deciding on it saves
the most energy (a pruned round costs at most one repetition). A per-epoch mean over the
repetitions exists only once the last repetition trains, so it could stop at most part of
that one. A round that passes its first repetition trains all the others, and its score stays
the mean accuracy of all of them (thesis §3.3.1).

Optuna's pruners prune single-objective studies; `search.pruner=pareto` prunes accuracy-and-
energy studies by the same first repetition (green_ai.search.pareto_pruning).
"""

from __future__ import annotations

from typing import Any

import optuna

from green_ai.config.train import PRUNERS, SearchConfig
from green_ai.errors import UserError
from green_ai.search.pareto_pruning import ParetoPruner


def build_pruner(search: SearchConfig, *, epochs: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner named by `search.pruner`, with `search.pruner_options`.

    Hyperband's largest budget is a whole repetition (`epochs` steps) unless set: Optuna's
    "auto" waits for a finished round to learn it, so the first rounds would go unbracketed.
    """
    options: dict[str, Any] = dict(search.pruner_options)
    if search.pruner == "hyperband":
        options.setdefault("max_resource", epochs)
    pruner: optuna.pruners.BasePruner = pruner_class(search.pruner)(**options)
    return pruner


def pruner_class(name: str) -> type[optuna.pruners.BasePruner]:
    """The class of `search.pruner=name`: Optuna's, or green_ai's Pareto pruner."""
    if name == "pareto":
        return ParetoPruner
    cls: type[optuna.pruners.BasePruner] = getattr(optuna.pruners, PRUNERS[name])
    return cls


def check_pruner_options(search: SearchConfig) -> None:
    """`search.pruner_options` name arguments of the chosen Optuna pruner (checked without
    running anything; a wrong one is one line)."""
    if not search.pruner_options or search.pruner == "none":
        return
    import inspect

    cls = pruner_class(search.pruner)
    known = [p for p in inspect.signature(cls).parameters if p != "self"]
    where = "green_ai.search.pareto_pruning" if cls is ParetoPruner else "optuna.pruners"
    for key in search.pruner_options:
        if key not in known:
            raise UserError(
                f"search.pruner_options.{key} is not an option of {where}."
                f"{cls.__name__}; its options: {', '.join(known)}"
            )
    try:
        cls(**search.pruner_options)
    except (TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0]
        raise UserError(f"search.pruner_options={search.pruner_options}: {reason}") from None
