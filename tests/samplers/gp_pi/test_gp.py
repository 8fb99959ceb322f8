"""The GP: its cheap posterior against BoTorch's, pending points, and the warnings it keeps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from botorch.exceptions import OptimizationWarning
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.warnings import NumericalWarning
from pytest_mock import MockerFixture

from green_ai.samplers._gp_pi import gp


def _data(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, d))
    y = -((X - 0.3) ** 2).sum(axis=1) + 0.05 * rng.normal(size=n)
    return torch.from_numpy(X), torch.from_numpy((y - y.mean()) / y.std(ddof=1)).unsqueeze(-1)


@pytest.mark.parametrize("cat_dims", [[], [2]])
def test_posterior_matches_botorch(cat_dims: list[int]) -> None:
    X, Y = _data(20, 3)
    if cat_dims:
        X[:, 2] = torch.round(X[:, 2] * 2) / 2  # a categorical with three choices
    model = gp.fit_gp(X, Y, cat_dims)
    x = torch.rand(50, 3, dtype=torch.float64)
    if cat_dims:
        x[:, 2] = torch.round(x[:, 2] * 2) / 2
    mean, var = gp.Posterior(model)(x)
    with torch.no_grad():
        reference = model.posterior(x.unsqueeze(-2))
    torch.testing.assert_close(mean, reference.mean.reshape(-1), rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(var, reference.variance.reshape(-1), rtol=1e-6, atol=1e-9)


def test_pending_points_condition_the_posterior_as_botorch_does() -> None:
    X, Y = _data(15, 2)
    model = gp.fit_gp(X, Y)
    pending = torch.tensor([[0.3, 0.3], [0.9, 0.1]], dtype=torch.float64)
    lie = torch.zeros(2, dtype=torch.float64)
    x = torch.rand(30, 2, dtype=torch.float64)
    mean, var = gp.Posterior(model, pending, lie)(x)
    with torch.no_grad():
        model.posterior(x[:1])  # BoTorch conditions only a model that has predicted once
        conditioned = model.condition_on_observations(pending, lie.unsqueeze(-1))
        reference = conditioned.posterior(x.unsqueeze(-2))
    torch.testing.assert_close(mean, reference.mean.reshape(-1), rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(var, reference.variance.reshape(-1), rtol=1e-6, atol=1e-9)
    # At the pending point the GP now expects the lie (the mean, 0) and is surer of it.
    at = gp.Posterior(model)(pending[:1])
    lied = gp.Posterior(model, pending, lie)(pending[:1])
    assert abs(lied[0].item()) < abs(at[0].item()) and lied[1].item() < at[1].item()


def test_warm_start_reaches_the_same_fit(mocker: MockerFixture) -> None:
    X, Y = _data(25, 3)
    cold = gp.fit_gp(X, Y)
    warm = gp.fit_gp(X, Y, start=gp.hyperparameters(cold))
    for (name, a), (_, b) in zip(cold.named_parameters(), warm.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0.05, atol=1e-3, msg=name)


def test_only_the_optimiser_warning_of_the_fit_is_silenced(mocker: MockerFixture) -> None:
    def fit(mll: object, **kwargs: object) -> object:
        warnings.warn("ABNORMAL_TERMINATION_IN_LNSRCH", OptimizationWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return mll

    mocker.patch("botorch.fit.fit_gpytorch_mll", side_effect=fit)
    X, Y = _data(8, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gp.fit_gp(X, Y)
    assert [w.category for w in caught] == [UserWarning]


def test_jitter_warning_of_a_singular_covariance_is_silenced() -> None:
    X, Y = _data(6, 2)
    X = torch.cat([X, X])  # every point twice
    Y = torch.cat([Y, Y])
    model = gp.fit_gp(X, Y)
    model.likelihood.noise_covar.raw_noise.data.fill_(0.0)  # below the fit's floor on purpose
    K = model.covar_module(X, X).to_dense().detach()
    with pytest.warns(NumericalWarning):  # the situation is real: GPyTorch would say so
        psd_safe_cholesky(K)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, var = gp.Posterior(model)(X[:3])
    assert torch.isfinite(mean).all() and torch.isfinite(var).all()
