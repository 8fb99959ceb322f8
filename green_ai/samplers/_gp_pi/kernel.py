"""The kernel of GP-PI's GP, evaluated directly on its fitted hyperparameters.

`gp._kernel` builds it from GPyTorch and BoTorch modules, which hold the hyperparameters, their
constraints and priors: Matérn-5/2 over the numeric dimensions (one length scale each), times
BoTorch's categorical kernel ``exp(−mean_c δ_c / ℓ_c)`` over the categorical ones. Evaluating
those modules costs more than the arithmetic: at 256 trials, GPyTorch's ARD Matérn took 19 ms to
score Algorithm 1's 2048 candidates, against 7–8 ms for the same values computed here from
squared distances by one matrix product (issue 12). The values agree with GPyTorch's and
BoTorch's to rounding (tests/samplers/gp_pi/test_gp.py compares the posteriors).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from gpytorch.kernels import Kernel

__all__ = ["FittedKernel", "KernelParts", "matern52", "matern52_with_slope"]

_SQRT5 = math.sqrt(5.0)


def matern52_with_slope(r2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Matérn-5/2 of the squared scaled distance ``r2``, and its derivative in ``r2``:
    ``(1 + √5 r + 5r²/3) e^(−√5 r)`` and ``−(5/6) (1 + √5 r) e^(−√5 r)``, which stays finite
    at r = 0 where the derivative of r itself does not."""
    r = r2.sqrt()
    decay = r.mul(-_SQRT5).exp_()
    linear = r.mul_(_SQRT5).add_(1.0)
    value = linear.add(r2, alpha=5.0 / 3.0).mul_(decay)
    return value, linear.mul_(decay).mul_(-5.0 / 6.0)


def matern52(r2: torch.Tensor) -> torch.Tensor:
    """`matern52_with_slope`'s value, differentiable in ``r2`` through its slope. Without a
    gradient to keep, it works in place: on thousands of candidates × hundreds of points each
    fresh n × m tensor costs about as much as the arithmetic on it."""
    import torch

    if torch.is_grad_enabled() and r2.requires_grad:
        return _matern52_function().apply(r2)
    r = r2.sqrt()
    decay = r.mul(-_SQRT5).exp_()
    return r.mul_(_SQRT5).add_(1.0).add_(r2, alpha=5.0 / 3.0).mul_(decay)


@functools.cache
def _matern52_function() -> Any:
    import torch

    class Matern52(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, r2: torch.Tensor) -> torch.Tensor:
            value, slope = matern52_with_slope(r2)
            ctx.save_for_backward(slope)
            return value

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            (slope,) = ctx.saved_tensors
            return grad * slope

    return Matern52


@dataclass(frozen=True)
class KernelParts:
    """The Matérn and categorical factors of a kernel built by `gp._kernel`, with the input
    dimensions each one sees (either factor may be absent)."""

    matern: Kernel | None
    numeric_dims: list[int]
    categorical: Kernel | None
    cat_dims: list[int]

    @classmethod
    def of(cls, kernel: Kernel, d: int) -> KernelParts:
        from botorch.models.kernels.categorical import CategoricalKernel
        from gpytorch.kernels import MaternKernel, ProductKernel

        parts = list(kernel.kernels) if isinstance(kernel, ProductKernel) else [kernel]
        matern = [k for k in parts if isinstance(k, MaternKernel) and k.nu == 2.5]
        categorical = [k for k in parts if isinstance(k, CategoricalKernel)]
        if len(matern) > 1 or len(categorical) > 1 or len(matern) + len(categorical) != len(parts):
            raise TypeError(f"expected Matérn-5/2 times a categorical kernel, got {kernel}")
        return cls(
            matern[0] if matern else None,
            _dims(matern[0], d) if matern else [],
            categorical[0] if categorical else None,
            _dims(categorical[0], d) if categorical else [],
        )


class FittedKernel:
    """``k(x1, x2)`` of a fitted kernel, its hyperparameters frozen; differentiable in the
    points (the acquisition's refinement needs the gradient in x)."""

    def __init__(self, kernel: Kernel, X: torch.Tensor) -> None:
        parts = KernelParts.of(kernel, X.shape[-1])
        self._numeric, self._cat = parts.numeric_dims, parts.cat_dims
        self._inverse_ls = self._inverse_cat_ls = None
        if parts.matern is not None:
            self._inverse_ls = 1.0 / parts.matern.lengthscale.detach().reshape(-1)
            # Distances by the expansion |a|² + |b|² − 2ab, as GPyTorch computes them, with
            # the points centred first so that the expansion loses little to rounding.
            self._centre = X[:, self._numeric].mean(0)
        if parts.categorical is not None:
            self._inverse_cat_ls = 1.0 / parts.categorical.lengthscale.detach().reshape(-1)

    def __call__(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        import torch

        k = None
        if self._inverse_ls is not None:
            a = (x1[:, self._numeric] - self._centre) * self._inverse_ls
            b = (x2[:, self._numeric] - self._centre) * self._inverse_ls
            r2 = torch.addmm((b * b).sum(-1), a, b.T, alpha=-2.0)  # |b|² − 2ab
            if r2.requires_grad:
                k = matern52((r2 + (a * a).sum(-1, keepdim=True)).clamp_min(0.0))
            else:  # in place: no fresh n × m tensor
                k = matern52(r2.add_((a * a).sum(-1, keepdim=True)).clamp_min_(0.0))
        if self._inverse_cat_ls is not None:
            differ = (x1[:, None, self._cat] != x2[None, :, self._cat]).to(x1.dtype)
            factor = torch.exp(-(differ @ self._inverse_cat_ls) / len(self._cat))
            k = factor if k is None else k * factor
        assert k is not None  # KernelParts.of refuses a kernel with neither factor
        return k


def _dims(kernel: Kernel, d: int) -> list[int]:
    active = getattr(kernel, "active_dims", None)
    return list(range(d)) if active is None else [int(i) for i in active]
