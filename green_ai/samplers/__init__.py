"""Optuna samplers of green_ai and the factories that `conf/search/*.yaml` name."""
