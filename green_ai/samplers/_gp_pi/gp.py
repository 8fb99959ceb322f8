"""The GP of GP-PI: a BoTorch ``SingleTaskGP`` whose kernel and noise are fitted to the data.

The thesis's testbed used a fixed length scale of 1 on raw inputs (SPEC, "Known defects"). Here
the inputs are the unit cube, the outputs are standardised, and the kernel has one length scale
per dimension and a Gaussian noise term (repeated trainings make every accuracy noisy), fitted
by maximising the marginal likelihood.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import optuna

if TYPE_CHECKING:
    import torch
    from botorch.models import SingleTaskGP

__all__ = ["fit_gp", "hyperparameters"]

_logger = optuna.logging.get_logger(__name__)


def fit_gp(
    X: torch.Tensor, Y: torch.Tensor, start: dict[str, torch.Tensor] | None = None
) -> SingleTaskGP:
    """A Matérn-5/2 ARD GP with modelled noise, hyperparameters fitted by marginal likelihood.

    ``start`` holds hyperparameters of an earlier fit (see `hyperparameters`) to start from.
    """
    from botorch.exceptions import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import MaternKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from gpytorch.priors import LogNormalPrior

    d = X.shape[-1]
    # Length-scale prior that grows with the dimension (Hvarfner et al. 2024, "Vanilla Bayesian
    # optimization performs great in high dimensions"), as BoTorch's own default uses.
    ls_prior = LogNormalPrior(loc=math.sqrt(2.0) + 0.5 * math.log(d), scale=math.sqrt(3.0))
    kernel = MaternKernel(
        nu=2.5,
        ard_num_dims=d,
        lengthscale_prior=ls_prior,
        lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=ls_prior.mode),
    )
    noise_prior = LogNormalPrior(loc=-4.0, scale=1.0)
    likelihood = GaussianLikelihood(
        noise_prior=noise_prior,
        noise_constraint=GreaterThan(1e-6, transform=None, initial_value=noise_prior.mode),
    )
    with warnings.catch_warnings():
        # Inputs are already in the unit cube and outputs standardised; BoTorch's checks of
        # that, and its notes on optimiser convergence, are noise here.
        warnings.simplefilter("ignore")
        model = SingleTaskGP(
            X,
            Y,
            likelihood=likelihood,
            covar_module=kernel,
            outcome_transform=None,
            input_transform=None,
        )
        if start is not None:
            model.load_state_dict(start, strict=False)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        try:
            fit_gpytorch_mll(mll)
        except ModelFittingError:
            # Every fitting attempt failed: keep the prior-mode hyperparameters, which still
            # give a usable (if less sharp) surrogate, rather than abort the study.
            _logger.warning("GPPISampler: GP fitting failed; using the prior's hyperparameters.")
    model.eval()
    return model


def hyperparameters(model: SingleTaskGP) -> dict[str, torch.Tensor]:
    """The fitted length scales, noise and constant mean, without data, priors or bounds."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}
