"""A study's pieces built from its settings: the net (the thesis's or a `_target_`), the data,
the optimiser and the task; and the cheap checks that run on them before anything starts."""

from green_ai.experiment.build import TaskRunner, load_data, make_net
from green_ai.experiment.checks import check_experiment

__all__ = ["TaskRunner", "check_experiment", "load_data", "make_net"]
