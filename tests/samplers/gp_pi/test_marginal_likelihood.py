"""The fit's closed-form loss and gradient, and the directly evaluated kernel, against GPyTorch."""

from __future__ import annotations

import pytest
import torch
from botorch.optim.closures import get_loss_closure_with_grads
from botorch.optim.utils import get_parameters
from gpytorch.mlls import ExactMarginalLogLikelihood

from green_ai.samplers._gp_pi import gp
from green_ai.samplers._gp_pi.kernel import FittedKernel
from green_ai.samplers._gp_pi.marginal_likelihood import LossWithGradient

# (points, dimensions, categorical dimensions): numeric only, mixed, categorical only.
SHAPES = [(60, 3, []), (40, 4, [1, 3]), (30, 2, [0, 1])]


def _model(n: int, d: int, cat_dims: list[int], seed: int = 0) -> ExactMarginalLogLikelihood:
    """An unfitted GP of `gp._model` on random data, its hyperparameters moved off their
    initial values (where some gradients vanish by symmetry)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, dtype=torch.float64, generator=g)
    for c in cat_dims:
        X[:, c] = torch.randint(0, 3, (n,), generator=g).double()
    Y = torch.randn(n, 1, dtype=torch.float64, generator=g)
    model = gp._model(X, Y, cat_dims)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn(p.shape, dtype=p.dtype, generator=g))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    mll.train()
    return mll


@pytest.mark.parametrize(("n", "d", "cat_dims"), SHAPES)
def test_loss_and_gradient_are_gpytorchs(n: int, d: int, cat_dims: list[int]) -> None:
    mll = _model(n, d, cat_dims)
    reference = get_loss_closure_with_grads(mll, get_parameters(mll, requires_grad=True))
    want_loss, want_grads = reference()
    want_grads = tuple(g.clone() for g in want_grads)
    ours = LossWithGradient(mll)
    got_loss, got_grads = ours()
    assert list(ours.parameters) == list(get_parameters(mll, requires_grad=True))
    torch.testing.assert_close(got_loss, want_loss.detach(), rtol=1e-10, atol=1e-12)
    assert len(got_grads) == len(want_grads)
    for name, got, want in zip(ours.parameters, got_grads, want_grads, strict=True):
        assert got is not None and want is not None
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-11, msg=name)


def test_points_tried_twice_give_the_loss_gpytorch_gives_with_its_jitter() -> None:
    mll = _model(20, 2, [])
    X = mll.model.train_inputs[0]
    X[10:] = X[:10]  # every point twice, with a noise far below the fit's floor
    mll.model.likelihood.noise_covar.raw_noise.data.fill_(-30.0)
    want_loss, _ = get_loss_closure_with_grads(mll, get_parameters(mll, requires_grad=True))()
    got_loss, got_grads = LossWithGradient(mll)()
    torch.testing.assert_close(got_loss, want_loss.detach(), rtol=1e-6, atol=1e-8)
    assert all(g is not None and torch.isfinite(g).all() for g in got_grads)


@pytest.mark.parametrize(("n", "d", "cat_dims"), SHAPES)
def test_fit_reaches_the_hyperparameters_that_gpytorchs_autograd_reaches(
    n: int, d: int, cat_dims: list[int]
) -> None:
    from botorch.fit import fit_gpytorch_mll

    X, Y = _data_of(_model(n, d, cat_dims))
    fitted = gp.fit_gp(X, Y, cat_dims)
    reference = gp._model(X, Y, cat_dims)  # the same start as fit_gp's
    fit_gpytorch_mll(ExactMarginalLogLikelihood(reference.likelihood, reference))
    for (name, a), (_, b) in zip(
        fitted.named_parameters(), reference.named_parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)


def _data_of(mll: ExactMarginalLogLikelihood) -> tuple[torch.Tensor, torch.Tensor]:
    return mll.model.train_inputs[0], mll.model.train_targets.unsqueeze(-1)


@pytest.mark.parametrize(("n", "d", "cat_dims"), SHAPES)
def test_fitted_kernel_and_its_gradient_in_x_are_gpytorchs(
    n: int, d: int, cat_dims: list[int]
) -> None:
    mll = _model(n, d, cat_dims)
    X = mll.model.train_inputs[0]
    kernel = mll.model.covar_module
    x = torch.cat([X[:5], torch.rand(7, d, dtype=torch.float64)])  # training points too
    for c in cat_dims:
        x[5:, c] = torch.randint(0, 3, (7,)).double()
    ours_x = x.clone().requires_grad_(True)
    ours = FittedKernel(kernel, X)(ours_x, X)
    theirs_x = x.clone().requires_grad_(True)
    theirs = kernel(theirs_x, X).to_dense()
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-9, atol=1e-12)
    if len(cat_dims) == d:
        return  # categories have no gradient: the refinement tries each value instead
    weights = torch.rand_like(ours)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    assert ours_x.grad is not None and theirs_x.grad is not None
    assert torch.isfinite(ours_x.grad).all()
    torch.testing.assert_close(ours_x.grad, theirs_x.grad, rtol=1e-6, atol=1e-9)
