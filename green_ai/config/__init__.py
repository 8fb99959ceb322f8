"""Typed settings of the three apps, described once and validated before anything runs.

Each config group is a dataclass whose fields are the YAML keys; `__post_init__` checks ranges
and cross-field rules with `green_ai.config.checks`, raising a one-line `UserError`.
"""
