"""Print the distributions the GPU check could use but this python lacks, one per line.

Only what the check's parts import beyond a GPU machine's own stack (torch, torchvision,
nvidia-ml-py, numpy): omegaconf for the framework's training loop and inference code, pytest
and hydra-core for the `needs_cuda` tests. `scripts/gpu_check.sh` installs these from a local
wheel folder into a private directory that only the check's processes see, with no network and
without touching torch.

A distribution counts as missing when its module is absent or its version does not fit: an
antlr4 runtime other than 4.9 breaks omegaconf 2.3, and hydra-core 1.3 needs omegaconf 2.3.
When the first member of a group is missing, the whole group is installed, so the private copies
fit each other rather than whatever else the machine has.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

# (distribution, module, version prefix it must have or None); the head of each group first.
Member = tuple[str, str, str | None]
GROUPS: list[list[Member]] = [
    [("PyYAML", "yaml", None)],
    [("omegaconf", "omegaconf", "2.3"), ("antlr4-python3-runtime", "antlr4", "4.9")],
    [("hydra-core", "hydra", "1.3"), ("packaging", "packaging", None)],
    [
        ("pytest", "pytest", None),
        ("pluggy", "pluggy", None),
        ("iniconfig", "iniconfig", None),
        ("Pygments", "pygments", None),
        ("packaging", "packaging", None),
        # pytest's backports before Python 3.11
        *(
            [("exceptiongroup", "exceptiongroup", None), ("tomli", "tomli", None)]
            if sys.version_info < (3, 11)
            else []
        ),
    ],
]


def unsuitable(dist: str, module: str, prefix: str | None) -> bool:
    """Whether `module` is absent, or its distribution's version does not start with `prefix`."""
    if importlib.util.find_spec(module) is None:
        return True
    if prefix is None:
        return False
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False  # importable without metadata: take it as it is
    return not (version == prefix or version.startswith(prefix + "."))


def missing() -> list[str]:
    """The distributions to install for the check, each once, in `GROUPS` order."""
    out: list[str] = []
    for group in GROUPS:
        head_missing = unsuitable(*group[0])
        for member in group:
            if (head_missing or unsuitable(*member)) and member[0] not in out:
                out.append(member[0])
    return out


if __name__ == "__main__":
    print("\n".join(missing()))
