"""Typed settings of the apps, described once and validated before anything runs.

Each config group is a dataclass whose fields are the YAML keys (the YAML files keep only what
differs from the defaults); `__post_init__` checks ranges and cross-field rules with
`green_ai.config.checks`, raising a one-line `UserError`. Code below the entry points receives
these objects, never the raw `DictConfig`:

    from green_ai.config.store import register_configs, train_settings
    settings = train_settings(cfg)   # TrainConfig, or a UserError naming the key

The package imports nothing itself, so `green_ai.config.checks` stays usable without Hydra
(the GPU check runs the networks on a machine that may lack it).
"""
