"""Hydra finds launchers only in the `hydra_plugins` namespace: green_ai's SLURM launcher
(green_ai.cluster.launcher) as Hydra loads it, for `hydra/launcher=slurm` and `slurm_cpu`."""
