"""The acquisition of GP-PI: Probability of Improvement with a margin ξ (thesis Eq. 3.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from green_ai.samplers._gp_pi.gp import Posterior

__all__ = ["log_pi", "probability_of_improvement"]

# Lower bound on the predictive standard deviation: the ε of Eq. 3.1, which keeps the ratio finite
# where the GP is (numerically) certain.
_MIN_STD = 1e-9


def probability_of_improvement(
    mean: torch.Tensor, std: torch.Tensor, best: float, xi: float, *, maximize: bool = True
) -> torch.Tensor:
    """PI of Eq. 3.1 (maximisation) or Eq. 3.2 (minimisation), with the margin ``xi``.

    ``PI = Φ((μ − f(x⁺) − ξ) / σ)`` when maximising and ``Φ((f(x⁺) − μ − ξ) / σ)`` when
    minimising; ``best`` is f(x⁺), the best value observed so far.
    """
    import torch

    gap = mean - best - xi if maximize else best - mean - xi
    # exp(log Φ) keeps the lower tail, where torch's ndtr rounds to 0 (Φ(-9.5) ≈ 1e-21).
    return torch.special.log_ndtr(gap / std.clamp_min(_MIN_STD)).exp()


def log_pi(posterior: Posterior, best: float, xi: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x ↦ log PI(x) = log Φ((μ(x) − f(x⁺) − ξ) / σ(x))`` for ``posterior``, a GP of the
    maximised, standardised objective (Eq. 3.2 is Eq. 3.1 applied to −f); ``x`` is n × d.

    This is BoTorch's ``LogProbabilityOfImprovement`` with ``best_f = f(x⁺) + ξ`` (a test holds
    them equal), on the cheaper `Posterior`. The logarithm has the same maximiser as PI and
    keeps a gradient far from the incumbent, where PI itself underflows to 0.
    """
    import torch

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        mean, var = posterior(x)
        std = var.clamp_min(_MIN_STD**2).sqrt()
        return torch.special.log_ndtr((mean - best - xi) / std)

    return acquisition
