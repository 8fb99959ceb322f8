"""`hydra/launcher=slurm`'s `_target_`: green_ai.cluster.launcher.SlurmLauncher where the
`cluster` extra is installed (Hydra imports every plugin module at start: without submitit
this one defines nothing rather than warn)."""

from __future__ import annotations

try:
    from green_ai.cluster.launcher import SlurmLauncher as _Launcher
except ImportError:  # no `pip install -e '.[cluster]'`: nothing to offer
    pass
else:

    class SlurmLauncher(_Launcher):
        """See green_ai.cluster.launcher."""
