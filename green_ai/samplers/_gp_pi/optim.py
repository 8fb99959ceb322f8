"""The optimiser of the acquisition: Algorithm 1's random candidates, then L-BFGS-B.

As in Algorithm 1 (thesis §3.2.2), ``n_candidates`` random points of the unit cube are scored
and the best one kept; the best few and the best observed point are then refined by L-BFGS-B,
and the highest acquisition among all of them wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["maximise"]


def maximise(
    log_pi: Any,
    rng: np.random.Generator,
    *,
    dim: int,
    n_candidates: int,
    n_local_starts: int,
    warm_starts: np.ndarray,
) -> np.ndarray:
    """The point of the unit cube with the highest acquisition found."""
    import torch

    # Algorithm 1: many random candidates, the best PI wins.
    candidates = torch.tensor(rng.uniform(size=(n_candidates, dim)))
    with torch.no_grad():
        scores = torch.cat([log_pi(c) for c in candidates.split(1024)])
    order = torch.argsort(scores, descending=True)[:n_local_starts]
    starts = torch.cat([candidates[order], torch.tensor(warm_starts)])
    if n_local_starts > 0:
        refined = _refine(log_pi, starts)
        with torch.no_grad():
            refined_scores = log_pi(refined)
        candidates = torch.cat([candidates, refined])
        scores = torch.cat([scores, refined_scores])
    return candidates[int(torch.argmax(scores))].numpy()


def _refine(log_pi: Any, starts: torch.Tensor) -> torch.Tensor:
    """L-BFGS-B on log PI inside the unit cube, from every start at once."""
    import torch
    from scipy.optimize import minimize

    shape = starts.shape

    def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.tensor(flat.reshape(shape), requires_grad=True)
        # The starts do not interact, so the sum's gradient is each start's own gradient.
        loss = -log_pi(x).sum()
        loss.backward()
        assert x.grad is not None
        return loss.item(), x.grad.numpy().ravel()

    result = minimize(
        fun,
        starts.numpy().ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * starts.numel(),
        options={"maxiter": 100},
    )
    return torch.tensor(np.clip(result.x, 0.0, 1.0).reshape(shape))
