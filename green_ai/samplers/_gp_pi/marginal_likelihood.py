"""The loss of the GP fit, the negative marginal log likelihood, with its gradient in closed form.

Through GPyTorch's ``ExactMarginalLogLikelihood`` autograd differentiates the Cholesky factor of
the n × n covariance and every step of the kernel's n × n × d distance computation: at 256
trials one evaluation cost 7–12 ms, and the fit takes a dozen per suggestion, which made GP-PI
slower than Optuna's GP there (issue 12). Both derivatives have closed forms. For the Gaussian
log likelihood (Rasmussen & Williams 2006, Eq. 5.9)::

    ∂ log p(y) / ∂K = ½ (α αᵀ − K⁻¹),   α = K⁻¹ (y − m),   ∂ log p(y) / ∂m = α,

and for the kernel of `gp._kernel`, K = Matérn-5/2(r²) ∘ exp(−mean_c δ_c / ℓ_c), where
r² = Σ_d Δ_d² / ℓ_d² and δ_c says whether two points differ in category c::

    ∂K / ∂(1/ℓ_d²) = K / Matérn · Matérn′(r²) Δ_d²,   ∂K / ∂(1/ℓ_c) = −K δ_c / C.

The differences Δ_d² and δ_c depend only on the data, so they are computed once per fit; each
evaluation is then one Cholesky factorisation, its inverse and a few element-wise n × n
products. Autograd only carries these gradients back through the hyperparameters' constraints
and priors (a handful of numbers). The loss is GPyTorch's (log likelihood plus the log priors,
divided by n, negated); a test holds the values and gradients equal to GPyTorch's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from green_ai.samplers._gp_pi.kernel import KernelParts, matern52_with_slope

if TYPE_CHECKING:
    import torch
    from gpytorch.mlls import ExactMarginalLogLikelihood

__all__ = ["LossWithGradient"]


class LossWithGradient:
    """A closure for BoTorch's ``fit_gpytorch_mll``: the loss of ``mll`` at its model's current
    hyperparameters and the gradient of each tunable parameter, in ``parameters``' order (the
    order BoTorch flattens them in). ``mll.model`` must be a GP built by `gp._model`."""

    def __init__(self, mll: ExactMarginalLogLikelihood) -> None:
        import torch
        from botorch.optim.utils import get_parameters

        self._mll = mll
        self.parameters = get_parameters(mll, requires_grad=True)
        X = mll.model.train_inputs[0]
        self._parts = KernelParts.of(mll.model.covar_module, X.shape[-1])
        # Per dimension, over all n² pairs, contiguous: the products below are then plain
        # matrix-vector products.
        numeric, cat = self._parts.numeric_dims, self._parts.cat_dims
        self._sq_diff = ((X[:, None, numeric] - X[None, :, numeric]) ** 2).permute(2, 0, 1)
        self._sq_diff = self._sq_diff.reshape(len(numeric), len(X) ** 2).contiguous()
        self._cat_diff = (X[:, None, cat] != X[None, :, cat]).to(X.dtype).permute(2, 0, 1)
        self._cat_diff = self._cat_diff.reshape(len(cat), len(X) ** 2).contiguous()
        self._eye = torch.eye(len(X), dtype=X.dtype)
        # GPyTorch walks every submodule to list the priors; the list is fixed for the fit.
        self._priors = [(m, prior, value) for _, m, prior, value, _ in mll.model.named_priors()]

    def __call__(self) -> tuple[torch.Tensor, tuple[torch.Tensor | None, ...]]:
        import torch
        from linear_operator.utils.cholesky import psd_safe_cholesky

        model = self._mll.model
        X, y = model.train_inputs[0], model.train_targets
        n = len(y)
        matern, categorical = self._parts.matern, self._parts.categorical
        for p in self.parameters.values():
            p.grad = None
        with torch.enable_grad():
            mean = model.mean_module(X)
            noise = model.likelihood.noise_covar.noise
            inverse_sq_ls = matern.lengthscale.reshape(-1) ** -2 if matern else None
            inverse_cat_ls = 1.0 / categorical.lengthscale.reshape(-1) if categorical else None
            log_prior = sum(
                (prior.log_prob(value(module)).sum() for module, prior, value in self._priors),
                torch.zeros((), dtype=X.dtype),
            )
        with torch.no_grad():
            kernel = slope = None
            if inverse_sq_ls is not None:
                kernel, slope = matern52_with_slope((inverse_sq_ls @ self._sq_diff).view(n, n))
            if inverse_cat_ls is not None:
                cat = torch.exp(-(inverse_cat_ls @ self._cat_diff) / len(inverse_cat_ls)).view(
                    n, n
                )
                slope = None if slope is None else slope * cat
                kernel = cat if kernel is None else kernel * cat
            assert kernel is not None  # KernelParts.of refuses a kernel with neither factor
            # GPyTorch's own factorisation, which adds jitter where K is not numerically
            # positive definite, so the loss is the one its likelihood would give.
            L = psd_safe_cholesky(kernel + noise * self._eye)
            residual = (y - mean).unsqueeze(-1)
            alpha = torch.cholesky_solve(residual, L)
            log_likelihood = -0.5 * (
                (residual * alpha).sum()
                + 2.0 * L.diagonal().log().sum()
                + n * math.log(2.0 * math.pi)
            )
            d_K = 0.5 * (alpha @ alpha.T - torch.cholesky_inverse(L))
            outputs = [mean, noise, log_prior]
            grads = [alpha.squeeze(-1), d_K.diagonal().sum().expand_as(noise), torch.ones(())]
            if inverse_sq_ls is not None and slope is not None:
                outputs.append(inverse_sq_ls)
                grads.append(self._sq_diff @ (d_K * slope).view(-1))
            if inverse_cat_ls is not None:
                outputs.append(inverse_cat_ls)
                grads.append(-(self._cat_diff @ (d_K * kernel).view(-1)) / len(inverse_cat_ls))
        # loss = −(log p(y) + log priors) / n, as ExactMarginalLogLikelihood's negative.
        scale = -1.0 / n
        torch.autograd.backward(
            outputs,
            [scale * g.to(X.dtype) for g in grads],
            inputs=list(self.parameters.values()),
        )
        loss = scale * (log_likelihood + log_prior.detach())
        return loss, tuple(p.grad for p in self.parameters.values())
