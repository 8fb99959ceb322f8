"""The optimiser of the acquisition: Algorithm 1's random candidates, then a local refinement.

As in Algorithm 1 (thesis §3.2.2), ``n_candidates`` random points of the box are scored and the
best one kept. The best few and the best observed point are then refined, in the shape of
Optuna's ``optuna/_gp/optim_mixed.py``: L-BFGS-B over the continuous coordinates, then each
coordinate with few values (categories, small integer ranges) set to each of its values in turn,
alternating until no value changes. The highest acquisition among candidates and refined points
wins, so the refinement can only improve on Algorithm 1. Every point scored is a point the study
can run: discrete coordinates are snapped before scoring, so a suggestion is never a rounded
continuous optimum that lands on a tried point while an untried one scores higher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from green_ai.samplers._gp_pi.search_space import SearchSpace

if TYPE_CHECKING:
    import torch

# The acquisition: n × d points to n values, differentiable in the points.
AcquisitionFunction = Callable[["torch.Tensor"], "torch.Tensor"]

__all__ = ["maximise"]

# Alternations between the continuous and the discrete coordinates; each start stops earlier
# once a round changes no discrete value (with no discrete coordinate: after one round).
_MAX_ROUNDS = 10


def maximise(
    acqf: AcquisitionFunction,
    space: SearchSpace,
    rng: np.random.Generator,
    *,
    n_candidates: int,
    n_local_starts: int,
    warm_starts: np.ndarray,
) -> np.ndarray:
    """The point of ``space`` with the highest acquisition found.

    ``warm_starts`` (k × dim) are refined besides the best ``n_local_starts`` candidates;
    ``n_local_starts == 0`` keeps Algorithm 1's plain random candidates.
    """
    candidates = space.sample(n_candidates, rng)
    scores = evaluate(acqf, candidates)
    if n_local_starts == 0:
        return candidates[int(np.argmax(scores))]
    best = np.argsort(-scores, kind="stable")[:n_local_starts]
    starts = np.vstack([candidates[best], space.snap(warm_starts.copy())])
    refined, refined_scores = local_search(acqf, space, starts)
    points = np.vstack([candidates, refined])
    return points[int(np.argmax(np.concatenate([scores, refined_scores])))]


def evaluate(acqf: AcquisitionFunction, X: np.ndarray) -> np.ndarray:
    """The acquisition at each row of ``X``."""
    import torch

    with torch.no_grad():
        return acqf(torch.from_numpy(X)).numpy()


def local_search(
    acqf: AcquisitionFunction, space: SearchSpace, X: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Refine every row of ``X`` (already snapped); returns the points and their scores."""
    X = X.copy()
    f = evaluate(acqf, X)
    continuous = [i for i in range(space.dim) if i not in space.exhaustive]
    active = np.ones(len(X), dtype=bool)
    for _ in range(_MAX_ROUNDS):
        if continuous:
            moved = space.snap(_lbfgsb(acqf, space, X[active], continuous))
            gain = evaluate(acqf, moved)
            better = gain > f[active]
            rows = np.flatnonzero(active)[better]
            X[rows], f[rows] = moved[better], gain[better]
        changed = np.zeros(len(X), dtype=bool)
        for i, values in space.exhaustive.items():
            rows = np.flatnonzero(active)
            X[rows], f[rows], moved_rows = _try_every_value(acqf, X[rows], f[rows], i, values)
            changed[rows] |= moved_rows
        active &= changed
        if not active.any():
            break
    return X, f


def _lbfgsb(
    acqf: AcquisitionFunction, space: SearchSpace, X: np.ndarray, free: list[int]
) -> np.ndarray:
    """L-BFGS-B on the acquisition from every row of ``X`` at once, moving only ``free``.

    The other coordinates of each row are held where they are by equal lower and upper bounds.
    BoTorch's ``gen_candidates_scipy`` takes one set of bounds for all its starts, so it cannot
    hold each start's own integer values; scipy's L-BFGS-B takes bounds per coordinate.
    """
    import torch
    from scipy.optimize import minimize

    lower, upper = np.zeros_like(X), np.ones_like(X)
    held = [i for i in range(space.dim) if i not in free]
    lower[:, held] = upper[:, held] = X[:, held]
    shape = X.shape

    def negative_with_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.from_numpy(flat.reshape(shape)).requires_grad_(True)
        # The starts do not interact, so the sum's gradient is each start's own gradient.
        loss = -acqf(x).sum()
        loss.backward()
        assert x.grad is not None
        return loss.item(), x.grad.numpy().ravel()

    result = minimize(
        negative_with_grad,
        X.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lower.ravel(), upper.ravel(), strict=True)),
        options={"maxiter": 100},
    )
    return np.clip(result.x.reshape(X.shape), lower, upper)


def _try_every_value(
    acqf: AcquisitionFunction, X: np.ndarray, f: np.ndarray, i: int, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Set coordinate ``i`` of each row to the value with the highest acquisition."""
    trials = np.repeat(X[:, None, :], len(values), axis=1)  # rows × values × dim
    trials[:, :, i] = values
    scores = evaluate(acqf, trials.reshape(-1, X.shape[1])).reshape(len(X), len(values))
    pick = np.argmax(scores, axis=1)
    top = scores[np.arange(len(X)), pick]
    better = top > f
    X, f = X.copy(), f.copy()
    X[better] = trials[better, pick[better]]
    f[better] = top[better]
    return X, f, better
