"""PI against its closed form (Eq. 3.1, 3.2) and log PI against BoTorch's."""

from __future__ import annotations

import numpy as np
import torch
from botorch.acquisition.analytic import LogProbabilityOfImprovement
from scipy.stats import norm

from green_ai.samplers import probability_of_improvement
from green_ai.samplers._gp_pi import acqf, gp


def test_pi_matches_closed_form_on_a_hand_made_posterior() -> None:
    mean = torch.tensor([0.2, -1.0, 1.5, 0.7], dtype=torch.float64)
    std = torch.tensor([0.5, 2.0, 0.1, 1e-3], dtype=torch.float64)
    best, xi = 0.6, 0.05
    got_max = probability_of_improvement(mean, std, best, xi, maximize=True)
    got_min = probability_of_improvement(mean, std, best, xi, maximize=False)
    m, s = mean.numpy(), std.numpy()
    np.testing.assert_allclose(got_max.numpy(), norm.cdf((m - best - xi) / s), rtol=1e-12)
    np.testing.assert_allclose(got_min.numpy(), norm.cdf((best - m - xi) / s), rtol=1e-12)
    # A larger margin can only lower the probability of improving on it.
    assert torch.all(probability_of_improvement(mean, std, best, 0.5) < got_max)


def test_pi_is_finite_where_the_posterior_is_certain() -> None:
    pi = probability_of_improvement(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), 0.5, 0.0)
    assert pi.tolist() == [1.0, 0.0]


def test_log_pi_is_botorchs_log_probability_of_improvement_with_the_margin() -> None:
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.uniform(size=(12, 2)))
    y = torch.sin(6 * X[:, 0]) + X[:, 1]
    Y = ((y - y.mean()) / y.std()).unsqueeze(-1)
    model = gp.fit_gp(X, Y)
    best, xi = float(Y.max()), 0.1
    x = torch.from_numpy(rng.uniform(size=(40, 2)))
    ours = acqf.log_pi(gp.Posterior(model), best, xi)(x)
    with torch.no_grad():
        theirs = LogProbabilityOfImprovement(model, best_f=best + xi)(x.unsqueeze(-2))
    # GPyTorch reaches the same variance by another order of operations: up to ~1e-6 apart.
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-8)
    # and exp(log PI) is Eq. 3.1 on the same posterior
    mean, var = gp.Posterior(model)(x)
    pi = probability_of_improvement(mean, var.sqrt(), best, xi)
    torch.testing.assert_close(ours.exp(), pi, rtol=1e-9, atol=1e-12)


def test_log_pi_has_a_gradient_far_from_the_incumbent() -> None:
    X = torch.tensor([[0.1], [0.2], [0.3]], dtype=torch.float64)
    Y = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
    model = gp.fit_gp(X, Y)
    x = torch.tensor([[0.95]], dtype=torch.float64, requires_grad=True)
    value = acqf.log_pi(gp.Posterior(model), best=1.0, xi=5.0)(x)
    value.sum().backward()
    assert torch.isfinite(value).all() and x.grad is not None and x.grad.abs().item() > 0
