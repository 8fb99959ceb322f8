"""GPPISampler: Bayesian optimisation with Probability of Improvement, as an Optuna sampler."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from green_ai.samplers._gp_pi import acqf, gp, optim
from green_ai.samplers._gp_pi.search_space import from_unit, is_modelled, to_unit

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP
    from optuna.study import Study

__all__ = ["DEFAULT_XI", "GPPISampler"]

_logger = optuna.logging.get_logger(__name__)

# PI's margin, cycled over the GP rounds: one wide round in four keeps exploring, the narrow
# ones refine the incumbent. With one fixed ξ (Eq. 3.1), PI stops refining once the gap left is
# below ξ: ξ = 0.01 fell behind Optuna's GP by 64 trials, the schedule is level with it at 27
# and 64 (docs/bench-samplers.md).
DEFAULT_XI = (1.0, 0.1, 0.01, 0.0)


class GPPISampler(BaseSampler):
    """Gaussian-process Bayesian optimisation with Probability of Improvement (thesis §3.2.2).

    Each round after ``n_startup_trials`` random ones:

    1. the numeric parameters of the completed trials are mapped to the unit cube (log-scaled
       parameters in log space) and their objective values standardised;
    2. a BoTorch ``SingleTaskGP`` with a Matérn-5/2 kernel, one length scale per dimension
       (log-normal prior scaled with the dimension, Hvarfner et al. 2024) and a Gaussian noise
       term is fitted by maximising the marginal likelihood: repeated trainings make every
       accuracy noisy;
    3. as in Algorithm 1, ``n_candidates`` uniform random points are scored with
       ``PI(x) = Φ((μ(x) − f(x⁺) − ξ) / σ(x))`` (Eq. 3.1; Eq. 3.2 for minimising studies) and the
       best few, with the best observed point, are refined by L-BFGS-B; the highest PI wins.
       Ranking and refinement use log PI, which has the same maximiser and keeps a gradient
       where PI underflows to zero far from the incumbent.

    Parameters the GP cannot model (categoricals, and parameters not present in every
    completed trial) are drawn by ``independent_sampler``. Failed and pruned trials are ignored.
    Multi-objective studies are refused with ``ValueError``.

    Example:
        .. code-block:: python

            import optuna
            from green_ai.samplers import GPPISampler

            study = optuna.create_study(direction="maximize", sampler=GPPISampler(seed=0))
            study.optimize(lambda t: -((t.suggest_float("x", -1.0, 1.0) - 0.3) ** 2), 20)

    Args:
        seed: Seed for the candidates, the startup rounds and the independent sampler.
        independent_sampler: Sampler for parameters the GP does not model; a seeded
            ``RandomSampler`` when ``None``.
        n_startup_trials: Completed trials drawn at random before the GP takes over.
        xi: The margin ξ of PI, in units of the standard deviation of the observed values
            (outputs are standardised), so one value suits accuracies and losses alike. Larger
            values explore more. A sequence of margins is a schedule: GP rounds cycle through
            it, so wide rounds go on exploring while narrow ones refine the incumbent.
        n_candidates: Random candidate points scored per round (Algorithm 1's N).
        n_local_starts: How many of the best candidates L-BFGS-B refines, besides the best
            observed point; 0 keeps Algorithm 1's plain random candidates.

    The same seed and the same trials give the same suggestions: each trial draws from a
    generator seeded by ``seed`` and the trial's number, so a resumed study does not repeat the
    random draws of its first rounds.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        independent_sampler: BaseSampler | None = None,
        n_startup_trials: int = 10,
        xi: float | Sequence[float] = DEFAULT_XI,
        n_candidates: int = 2048,
        n_local_starts: int = 5,
    ) -> None:
        if n_startup_trials < 0:
            raise ValueError(f"n_startup_trials must be >= 0, got {n_startup_trials}.")
        xis = [float(x) for x in xi] if isinstance(xi, Sequence) else [float(xi)]
        if not xis or not all(x >= 0.0 and math.isfinite(x) for x in xis):
            raise ValueError(f"xi must be a finite number >= 0 or a list of them, got {xi}.")
        if n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1, got {n_candidates}.")
        if n_local_starts < 0:
            raise ValueError(f"n_local_starts must be >= 0, got {n_local_starts}.")
        self._rng = np.random.RandomState(seed)
        self._base_seed = int(self._rng.randint(2**31 - 1))
        self._independent_sampler = independent_sampler or RandomSampler(seed=seed)
        self._n_startup_trials = n_startup_trials
        self._xis = xis
        self._n_candidates = n_candidates
        self._n_local_starts = n_local_starts
        self._search_space = IntersectionSearchSpace()
        self._warned_independent: set[str] = set()
        # Kernel and noise hyperparameters of the last fit, per input dimension: the next fit
        # starts from them (one more point rarely moves them far), which makes it much shorter.
        self._last_fit: dict[int, dict[str, torch.Tensor]] = {}
        self._last_model: tuple[tuple[bytes, bytes], SingleTaskGP] | None = None

    def reseed_rng(self) -> None:
        self._rng.seed()
        self._base_seed = int(self._rng.randint(2**31 - 1))
        self._independent_sampler.reseed_rng()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        _refuse_multi_objective(study)
        return {
            name: dist
            for name, dist in self._search_space.calculate(study).items()
            if is_modelled(dist)
        }

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        _refuse_multi_objective(study)
        if not search_space:
            return {}
        # One generator per trial number: a resumed study (same seed) continues with fresh
        # draws instead of repeating the first rounds, and parallel workers do not collide.
        rng = np.random.default_rng([self._base_seed, trial.number])
        # A caller may pass any search space, not only `infer_relative_search_space`'s (Optuna's
        # sampler test suite passes categoricals): what the GP does not model is drawn apart.
        modelled = {n: d for n, d in search_space.items() if is_modelled(d)}
        params: dict[str, Any] = {
            name: self._independent_sampler.sample_independent(study, trial, name, dist)
            for name, dist in search_space.items()
            if name not in modelled
        }
        if not modelled:
            return params
        names = list(modelled)
        complete = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if all(n in t.params for n in names)
        ]
        if len(complete) < max(self._n_startup_trials, 1):
            unit = rng.uniform(size=len(names))
        else:
            X = np.array([[to_unit(t.params[n], modelled[n]) for n in names] for t in complete])
            y = np.array([t.value for t in complete], dtype=float)
            maximize = study.direction == StudyDirection.MAXIMIZE
            unit = self._suggest_unit(np.clip(X, 0.0, 1.0), y, maximize, rng)
        params.update({n: from_unit(float(unit[i]), modelled[n]) for i, n in enumerate(names)})
        return params

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        _refuse_multi_objective(study)
        n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        if (
            n_complete >= self._n_startup_trials
            and is_modelled(param_distribution)
            and param_name not in self._warned_independent
        ):
            # A numeric parameter missing from the GP (e.g. a conditional one) is worth a note.
            self._warned_independent.add(param_name)
            _logger.info(
                f"GPPISampler draws {param_name!r} independently: it is not in every completed "
                "trial with the same distribution, so the GP does not model it."
            )
        return self._independent_sampler.sample_independent(
            study, trial, param_name, param_distribution
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._independent_sampler.after_trial(study, trial, state, values)

    def _suggest_unit(
        self, X: np.ndarray, y: np.ndarray, maximize: bool, rng: np.random.Generator
    ) -> np.ndarray:
        """Fit the GP on (X, y) in the unit cube and return the PI maximiser found."""
        import torch

        # Work on maximisation internally; Eq. 3.2 is Eq. 3.1 applied to −f.
        signed = y if maximize else -y
        # Infinite values (allowed by Optuna) would wreck standardisation: cap them at the
        # finite extremes.
        finite = signed[np.isfinite(signed)]
        if finite.size == 0:
            return np.asarray(rng.uniform(size=X.shape[1]))
        signed = np.clip(signed, finite.min(), finite.max())
        std = signed.std()
        Y = (signed - signed.mean()) / (std if std > 0 else 1.0)
        best = float(Y.max())
        # The schedule advances with the data, so the same trials give the same margin.
        xi = self._xis[len(Y) % len(self._xis)]

        fit_seed = int(rng.integers(2**31 - 1))
        key = (X.tobytes(), Y.tobytes())
        if self._last_model is not None and self._last_model[0] == key:
            # Same data as the last round (parallel workers asking before anyone told).
            model = self._last_model[1]
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(fit_seed)
                model = gp.fit_gp(
                    torch.tensor(X), torch.tensor(Y).unsqueeze(-1), self._last_fit.get(X.shape[1])
                )
            self._last_fit[X.shape[1]] = gp.hyperparameters(model)
            self._last_model = (key, model)
        return optim.maximise(
            acqf.log_pi(model, best, xi),
            rng,
            dim=X.shape[1],
            n_candidates=self._n_candidates,
            n_local_starts=self._n_local_starts,
            warm_starts=X[[int(np.argmax(Y))]],
        )


def _refuse_multi_objective(study: Study) -> None:
    if len(study.directions) > 1:
        raise ValueError(
            "GPPISampler optimises a single objective; for a multi-objective study use "
            "search=random, search=grid, search=tpe or search=gp."
        )
