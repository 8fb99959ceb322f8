"""Pareto pruning: stop a round of an accuracy-and-energy study that cannot reach the front.

Optuna's pruners rank rounds by one intermediate value, and `trial.report` refuses studies
with several objectives. A study of `search.objectives=[accuracy,energy]` (or `[<metric>,
energy]`) is where pruning pays most, though: a round that is clearly dominated after a few
epochs will not reach the accuracy × energy front (thesis Figure 3.8's scatter; §3.6.1: a
search should not spend joules on configurations it does not need). So this pruner keeps each
round's curve itself.

The curve is the round's **first repetition** (why the first: green_ai.search.pruning): after
every epoch `e`, the value the task reported (`curve_values[e]`, the first objective) and the
joules of its epochs so far (`curve_energy_j[e]`, cumulative, the figure the energy objective
uses: idle-subtracted where idle was measured). Both are user attributes of the round's trial,
written to the study's storage as the epochs end: every worker sharing the study, and a
resumed study, sees the curves of every round, and the pruner itself holds nothing.

The rule. A round `r` reporting epoch `e` is pruned when some COMPLETE round `c` (on the
front or not: what dominates `c` dominates `r` too)

    reported a value better than r's by at least `margin` at the same epoch e, and
    had spent no more joules than r by the end of epoch e - 1,

once `n_startup_trials` rounds are complete and from epoch `max(1, n_warmup_steps)` on. The
joules are compared before epoch `e`: the epoch that just reported is still inside its energy
window (it closes after `ctx.report`), so epoch 0 is never judged.

Why it is safe. A round's joules are its per-epoch cost times its epochs, and the per-epoch
cost is set by its values (a net width, a batch size), not by how far it has learnt: a round
whose first `e` epochs cost at least `c`'s will cost at least `c`'s in all (both train the
same epochs and repetitions). Learning curves of rounds `margin` apart at the same epoch rarely
cross later, and `c`'s value is that of the same epoch of the same training budget. So `r`
would end, in all likelihood, worse in accuracy and no cheaper than a round already finished:
dominated, never on the front. The energy side needs no margin (an equal-cost round decides
on accuracy alone); `margin` (objective units, e.g. 0.02 = 2 points of accuracy) is what
protects a round whose curve might still overtake. Only COMPLETE rounds are references:
a pruned round's curve stopped, a running one may still fail. Where the assumptions fail (a
late bloomer), the front loses that round; `scripts/bench_pareto_pruning.py` measures what
that costs in hypervolume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

# The trial's user attributes holding its first repetition's curve (index = 0-based epoch).
CURVE_VALUES = "curve_values"
CURVE_ENERGY = "curve_energy_j"


class ParetoPruner(optuna.pruners.BasePruner):
    """`search.pruner=pareto` (the rule: the module's docstring).

    Options (`search.pruner_options`): `n_startup_trials` complete rounds before any pruning,
    `n_warmup_steps` epochs never judged (epoch 0 never is), `margin` in the first
    objective's units.
    """

    def __init__(
        self, n_startup_trials: int = 3, n_warmup_steps: int = 1, margin: float = 0.02
    ) -> None:
        for name, count in (
            ("n_startup_trials", n_startup_trials),
            ("n_warmup_steps", n_warmup_steps),
        ):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{name} must be an integer of 0 or more, got {count!r}")
        if isinstance(margin, bool) or not isinstance(margin, int | float) or margin < 0:
            raise ValueError(f"margin must be a number of 0 or more, got {margin!r}")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps
        self.margin = float(margin)

    # -- feeding it: the round's first repetition, as its epochs end ----------------------

    def report_value(self, trial: optuna.Trial, epoch: int, value: float) -> None:
        """The value the task reported for `epoch` (`ctx.report`)."""
        trial.set_user_attr(
            CURVE_VALUES, _set_at(trial.user_attrs.get(CURVE_VALUES), epoch, value)
        )

    def report_energy(self, trial: optuna.Trial, epoch: int, joules: float | None) -> None:
        """The joules of `epoch`'s window (None: not measured; the round is then never
        judged on energy it cannot show)."""
        curve = trial.user_attrs.get(CURVE_ENERGY)
        before = 0.0 if epoch == 0 else _at(curve, epoch - 1)
        total = None if joules is None or before is None else before + joules
        trial.set_user_attr(CURVE_ENERGY, _set_at(curve, epoch, total))

    def should_prune_at(self, trial: optuna.Trial, epoch: int) -> bool:
        """Whether the live round `trial` is to stop after `epoch` (its curve as stored)."""
        return self._dominated(trial.study, trial.user_attrs, epoch, trial.number)

    # -- Optuna's interface ---------------------------------------------------------------

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        """The rule for a stored round at its last reported epoch (Optuna's `should_prune`
        refuses multi-objective studies, so the study calls `should_prune_at` instead)."""
        values = trial.user_attrs.get(CURVE_VALUES) or []
        return self._dominated(study, trial.user_attrs, len(values) - 1, trial.number)

    def _dominated(
        self, study: optuna.Study, attrs: Mapping[str, Any], epoch: int, number: int
    ) -> bool:
        if epoch < max(1, self.n_warmup_steps):
            return False
        value = _at(attrs.get(CURVE_VALUES), epoch)
        spent = _at(attrs.get(CURVE_ENERGY), epoch - 1)
        if value is None or spent is None:
            return False
        sign = 1.0 if study.directions[0] == StudyDirection.MAXIMIZE else -1.0
        complete = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.number != number and t.user_attrs.get(CURVE_VALUES)
        ]
        if len(complete) < self.n_startup_trials:
            return False
        for c in complete:
            their_value = _at(c.user_attrs.get(CURVE_VALUES), epoch)
            their_spent = _at(c.user_attrs.get(CURVE_ENERGY), epoch - 1)
            if their_value is None or their_spent is None:
                continue
            better = sign * (their_value - value)
            if better > 0 and better >= self.margin and their_spent <= spent:
                return True
        return False


def _at(curve: Sequence[float | None] | None, index: int) -> float | None:
    if not curve or index < 0 or index >= len(curve):
        return None
    return curve[index]


def _set_at(curve: Sequence[float | None] | None, index: int, value: float | None) -> list[Any]:
    """The curve with `value` at `index` (a gap, an epoch that reported nothing, is None)."""
    out: list[Any] = list(curve or [])
    out.extend([None] * (index + 1 - len(out)))
    out[index] = value
    return out
