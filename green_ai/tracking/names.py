"""Short run names that put what varies first (issue 11).

MLflow's runs table cuts names at about 20 characters, so a sweep cell is named by its varying
overrides first (`conv4 relu1`), then the rest of the factors (`lin3 simplecnn random`): the
four cells of `conv=1,4 relu=0,1` differ in the part that stays visible. The full study name
stays in the run's `study_name` tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from green_ai.config.train import TrainConfig

# Config groups whose chosen option is a whole word worth showing as it is (`gp_pi`, `cifar10`).
GROUPS = ("net", "search", "hparams", "dataset", "energy", "experiment", "optimizer", "task")
# Layer-count shortcuts and their short forms.
LAYERS = {"conv": "conv", "relu": "relu", "linear": "lin"}


def token(key: str, value: str, settings: TrainConfig) -> str:
    """One override as a word: `conv4`, `lin3`, `gp_pi`, `median`, `seed1`, `train_samples512`."""
    key = key.lstrip("+~")
    if key in LAYERS:
        return f"{LAYERS[key]}{getattr(settings, key)}"
    if key in GROUPS or key == "search.pruner":
        return value
    return f"{key.rsplit('.', 1)[-1]}{value}"


def cell_label(
    settings: TrainConfig, overrides: Sequence[str] = (), varying: Sequence[str] = ()
) -> str:
    """The run name of a study: the sweep's `varying` keys (as the job's `overrides` set them),
    then its layer counts, net and strategy (and pruner, if any)."""
    given = {}
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep:
            given[key.lstrip("+~")] = value
    words = [token(k, given[k], settings) for k in varying if k in given]
    s = settings
    if not s.net.is_thesis:
        layers: tuple[str, ...] = ()  # a _target_ net's own keys say its size
    elif s.net.name == "simplecnn":
        layers = ("conv", "relu", "linear")
    else:
        layers = ("linear",)
    rest = [token(k, "", s) for k in layers] + [s.net.name, s.search.name]
    rest += [
        name
        for name, usual in ((s.optimizer.name, "adam"), (s.task.name, "classify"))
        if name != usual
    ]
    if s.search.pruner != "none":
        rest.append(s.search.pruner)
    words += [w for w in rest if w not in words]
    return " ".join(words)


def round_label(number: int, label: str) -> str:
    """The run name of round `number` of the study named `label`."""
    return f"round{number} {label}"
