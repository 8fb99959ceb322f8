"""The optimiser of the acquisition, on hand-made acquisitions whose maximiser is known."""

from __future__ import annotations

import numpy as np
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from green_ai.samplers._gp_pi import optim
from green_ai.samplers._gp_pi.search_space import SearchSpace


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_an_integer_gets_the_value_with_the_highest_acquisition() -> None:
    # 16 integers whose acquisition has its continuous peak between 6 and 7 but its highest
    # value at 12: rounding a continuous optimum would miss it.
    space = SearchSpace({"k": IntDistribution(0, 15)})
    values = torch.from_numpy(space.exhaustive[0])
    scores = -((values - values[6:8].mean()) ** 2)
    scores[12] = 1.0

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        # Piecewise constant over each value's share of [0, 1], as the GP sees integers.
        return scores[torch.clamp((x[:, 0] * 16).long(), 0, 15)] + 0 * x[:, 0]

    warm = space.encode({"k": 6})[None, :]
    best = optim.maximise(
        acquisition, space, _rng(), n_candidates=4, n_local_starts=2, warm_starts=warm
    )
    assert space.decode(best) == {"k": 12}


def test_mixed_space_reaches_the_optimum_on_allowed_values() -> None:
    space = SearchSpace(
        {
            "x": FloatDistribution(-1.0, 1.0),
            "k": IntDistribution(0, 9),
            "n": IntDistribution(0, 999),
            "c": CategoricalDistribution(["a", "b", "c"]),
        }
    )
    target = space.encode({"x": 0.3, "k": 7, "n": 412, "c": "b"})

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        t = torch.from_numpy(target)
        return -((x - t) ** 2 * torch.tensor([1.0, 1.0, 1.0, 4.0])).sum(-1)

    best = optim.maximise(
        acquisition, space, _rng(), n_candidates=16, n_local_starts=2, warm_starts=target[None] * 0
    )
    params = space.decode(best)
    assert params["k"] == 7 and params["c"] == "b" and abs(params["n"] - 412) <= 1
    assert abs(params["x"] - 0.3) < 1e-3


def test_without_local_starts_the_best_random_candidate_wins() -> None:
    space = SearchSpace({"x": FloatDistribution(0.0, 1.0)})
    seen: list[torch.Tensor] = []

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        seen.append(x.detach().clone())
        return -((x[:, 0] - 0.42) ** 2)

    best = optim.maximise(
        acquisition, space, _rng(), n_candidates=32, n_local_starts=0, warm_starts=np.zeros((1, 1))
    )
    (candidates,) = seen  # one batch, nothing refined
    assert best[0] == candidates[torch.argmax(-((candidates[:, 0] - 0.42) ** 2)), 0].item()


def test_refinement_never_loses_to_the_candidates() -> None:
    space = SearchSpace({"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)})

    def acquisition(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(9 * x[:, 0]) * torch.cos(7 * x[:, 1])

    plain = optim.maximise(
        acquisition, space, _rng(), n_candidates=64, n_local_starts=0, warm_starts=np.zeros((1, 2))
    )
    refined = optim.maximise(
        acquisition, space, _rng(), n_candidates=64, n_local_starts=3, warm_starts=np.zeros((1, 2))
    )
    value = optim.evaluate(acquisition, np.vstack([plain, refined]))
    assert value[1] >= value[0]
    assert value[1] > 0.999  # sin · cos peaks at 1
