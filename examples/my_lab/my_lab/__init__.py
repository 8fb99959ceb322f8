"""A researcher's own experiment, outside green_ai: a small residual net, a dataset function and
a training loop with a learning-rate schedule, measured the green_ai way (README "Your own
experiment")."""
