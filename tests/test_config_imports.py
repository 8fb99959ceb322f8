"""`green_ai.config` describes and checks settings without importing what runs them.

The apps' `--help`, preflight checks and the GPU check import it on machines or at moments
where torch, Optuna or the training and energy packages are slow, absent or not wanted.
"""

from __future__ import annotations

import json
import subprocess
import sys

RUNTIME = ("torch", "optuna", "green_ai.training", "green_ai.energy", "green_ai.search")

PROBE = f"""
import importlib, json, pkgutil, sys
import green_ai.config as package
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"green_ai.config.{{module.name}}")
from green_ai.config.energy import EnergyConfig
EnergyConfig(backends=["nvml", "rapl"])  # the backends are looked up in their files
print(json.dumps([name for name in {RUNTIME!r} if name in sys.modules]))
"""


def test_the_config_package_imports_no_runtime_package() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(out.stdout.splitlines()[-1]) == []
