"""The acquisition of GP-PI: Probability of Improvement with a margin ξ (thesis Eq. 3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

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

    # exp(log Φ) keeps the lower tail, where torch's ndtr rounds to 0 (Φ(-9.5) ≈ 1e-21).
    return torch.special.log_ndtr(improvement_z(mean, std, best, xi, maximize=maximize)).exp()


def improvement_z(
    mean: torch.Tensor, std: torch.Tensor, best: float, xi: float, *, maximize: bool
) -> torch.Tensor:
    gap = mean - best - xi if maximize else best - mean - xi
    return gap / std.clamp_min(_MIN_STD)


def log_pi(model: Any, best: float, xi: float) -> Any:
    """``x ↦ log PI(x)`` of the fitted ``model`` (a GP of the maximised, standardised objective).

    log PI has the same maximiser as PI and keeps a gradient where PI underflows to zero far
    from the incumbent.
    """
    import torch

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        posterior = model.posterior(x)
        mean = posterior.mean.squeeze(-1)
        # Clamped above zero so sqrt keeps a finite gradient where the GP is certain.
        sd = posterior.variance.clamp_min(_MIN_STD**2).sqrt().squeeze(-1)
        return torch.special.log_ndtr(improvement_z(mean, sd, best, xi, maximize=True))

    return acquisition
