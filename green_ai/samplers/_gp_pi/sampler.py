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
from green_ai.samplers._gp_pi.search_space import SearchSpace, is_modelled
from green_ai.samplers._gp_pi.thread_limiting import limit_threads

if TYPE_CHECKING:
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

    1. the parameters of the completed trials become points of a box (numeric ones in [0, 1],
       log-scaled ones in log space, integers padded half a step at each end so that every
       value owns an equal share; categories as their index) and the objective values are
       standardised;
    2. a BoTorch ``SingleTaskGP`` (Matérn-5/2 with one length scale per numeric dimension,
       log-normal prior scaled with the dimension as in Hvarfner et al. 2024, times a
       categorical kernel; Gaussian noise, since repeated trainings make every accuracy noisy)
       is fitted by maximising the marginal likelihood;
    3. trials still RUNNING with all their parameters set join the GP as if they had returned
       the mean of the observed values (a constant liar), so parallel workers spread out;
    4. as in Algorithm 1, ``n_candidates`` random points are scored with
       ``PI(x) = Φ((μ(x) − f(x⁺) − ξ) / σ(x))`` (Eq. 3.1; Eq. 3.2 for minimising studies) and
       the best few, with the best observed point, are refined: L-BFGS-B on the continuous
       coordinates, every value tried on the discrete ones. The highest PI wins. Ranking and
       refinement use log PI, which has the same maximiser and keeps a gradient where PI
       underflows to zero far from the incumbent.

    The GP work runs with one torch and one BLAS thread whatever the process's settings
    (threads only add contention on matrices this small). Parameters not present in every
    completed trial with the same distribution are drawn by ``independent_sampler``. Failed and
    pruned trials are ignored. Multi-objective studies are refused with ``ValueError`` when the
    study asks for its first trial, and that trial is marked failed.

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
        n_local_starts: How many of the best candidates are refined, besides the best observed
            point; 0 keeps Algorithm 1's plain random candidates.

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
        # Hyperparameters of the last fit per kind of box (dimension, categorical dimensions):
        # the next fit starts from them, which makes it much shorter.
        self._last_fit: dict[tuple[int, tuple[int, ...]], gp.Hyperparameters] = {}
        # The last fitted GP and the data it saw: parallel workers asking before anyone told
        # (or a trial asked again) reuse it.
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
        # A caller may pass any search space, not only `infer_relative_search_space`'s: a
        # parameter with a single value is left to the independent sampler, which returns it.
        fixed = {n: d for n, d in search_space.items() if not is_modelled(d)}
        params = {
            n: self._independent_sampler.sample_independent(study, trial, n, d)
            for n, d in fixed.items()
        }
        search_space = {n: d for n, d in search_space.items() if n not in fixed}
        if not search_space:
            return params
        params.update(self._sample_modelled(study, trial, search_space, rng))
        return params

    def _sample_modelled(
        self,
        study: Study,
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
        rng: np.random.Generator,
    ) -> dict[str, Any]:
        space = SearchSpace(search_space)
        complete = _trials_with(study, (TrialState.COMPLETE,), search_space)
        if len(complete) < max(self._n_startup_trials, 1):
            return space.decode(space.sample(1, rng)[0])

        X = np.array([space.encode(t.params) for t in complete])
        y = np.array([t.value for t in complete], dtype=float)
        running = [
            t
            for t in _trials_with(study, (TrialState.RUNNING,), search_space)
            if t.number != trial.number
        ]
        X_pending = np.array([space.encode(t.params) for t in running]).reshape(-1, space.dim)
        maximize = study.direction == StudyDirection.MAXIMIZE
        with limit_threads():
            x = self._suggest(space, X, y if maximize else -y, X_pending, rng)
        return space.decode(x)

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
            # A parameter missing from the GP (e.g. a conditional one) is worth a note.
            self._warned_independent.add(param_name)
            _logger.info(
                f"GPPISampler draws {param_name!r} independently: it is not in every completed "
                "trial with the same distribution, so the GP does not model it."
            )
        return self._independent_sampler.sample_independent(
            study, trial, param_name, param_distribution
        )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        # Optuna calls this inside `ask()`, just after storing the new trial as RUNNING; its
        # own single-objective samplers refuse later, at the first suggestion, which leaves
        # that trial RUNNING outside `optimize`. Here the trial is failed before `ask()` raises,
        # so a study loop never holds a trial that nothing will finish.
        if len(study.directions) > 1:
            study.tell(trial.number, state=TrialState.FAIL)
            _refuse_multi_objective(study)
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._independent_sampler.after_trial(study, trial, state, values)

    def _suggest(
        self,
        space: SearchSpace,
        X: np.ndarray,
        signed: np.ndarray,
        X_pending: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Fit the GP on the points ``X`` and values ``signed`` (to maximise); the PI maximiser."""
        import torch

        # Infinite values (allowed by Optuna) would wreck standardisation: cap them at the
        # finite extremes.
        finite = signed[np.isfinite(signed)]
        if finite.size == 0:
            return space.sample(1, rng)[0]
        signed = np.clip(signed, finite.min(), finite.max())
        # n − 1, as BoTorch's check of standardised outputs counts it.
        std = signed.std(ddof=1) if len(signed) > 1 else 0.0
        Y = (signed - signed.mean()) / (std if std > 0 else 1.0)
        # The schedule advances with the data, so the same trials give the same margin.
        xi = self._xis[len(Y) % len(self._xis)]

        fit_seed = int(rng.integers(2**31 - 1))
        key = (X.tobytes(), Y.tobytes())
        kind = (space.dim, tuple(space.cat_dims))
        if self._last_model is not None and self._last_model[0] == key:
            model = self._last_model[1]
        else:
            with torch.random.fork_rng(devices=[]):
                # BoTorch redraws hyperparameters from their priors when a fit fails.
                torch.manual_seed(fit_seed)
                model = gp.fit_gp(
                    torch.from_numpy(X),
                    torch.from_numpy(Y).unsqueeze(-1),
                    space.cat_dims,
                    self._last_fit.get(kind),
                )
            self._last_fit[kind] = gp.hyperparameters(model)
            self._last_model = (key, model)
        # Pending trials "return" the mean of the standardised values, 0.
        posterior = gp.Posterior(
            model, torch.from_numpy(X_pending), torch.zeros(len(X_pending), dtype=torch.float64)
        )
        return optim.maximise(
            acqf.log_pi(posterior, best=float(Y.max()), xi=xi),
            space,
            rng,
            n_candidates=self._n_candidates,
            n_local_starts=self._n_local_starts,
            warm_starts=X[[int(np.argmax(Y))]],
        )


def _trials_with(
    study: Study, states: tuple[TrialState, ...], search_space: dict[str, BaseDistribution]
) -> list[FrozenTrial]:
    """Trials in ``states`` that hold every parameter of ``search_space`` with its distribution."""
    return [
        t
        for t in study.get_trials(deepcopy=False, states=states)
        if all(t.distributions.get(n) == d for n, d in search_space.items())
    ]


def _refuse_multi_objective(study: Study) -> None:
    if len(study.directions) > 1:
        raise ValueError(
            "GPPISampler optimises a single objective; for a multi-objective study use "
            "search=random, search=grid, search=tpe or search=gp."
        )
