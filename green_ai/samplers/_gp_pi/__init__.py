"""GP-PI: Bayesian optimisation with the Probability-of-Improvement acquisition (thesis §3.2.2).

Split as Optuna splits its GP (``optuna/_gp/``): `search_space` (parameters as points of a box),
`gp` (the surrogate and its fit), `acqf` (PI, Eq. 3.1), `optim` (the acquisition's optimiser),
`thread_limiting`, and `sampler`, which joins them into an Optuna sampler.
"""

from __future__ import annotations

from green_ai.samplers._gp_pi.acqf import probability_of_improvement
from green_ai.samplers._gp_pi.sampler import DEFAULT_XI, GPPISampler

__all__ = ["DEFAULT_XI", "GPPISampler", "probability_of_improvement"]
