"""A small MLflow store with known runs, named as training and inference name them
(docs/architecture.md "Names in MLflow"). Every value is a formula here so tests can
recompute the report's tables independently.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from green_ai.tracking import KIND_INFERENCE, KIND_TRAIN_ROUND, KIND_TRAIN_STUDY

EXPERIMENT = "green"
EMPTY_EXPERIMENT = "empty"
LEGACY_EXPERIMENT = "legacy"
CUSTOM_EXPERIMENT = "custom"
OBJECTIVE_EXPERIMENT = "objective"

# Search studies: accuracy and net energy per round; None = a failed round (no accuracy, but
# its joules were spent).
SEARCH: dict[str, tuple[list[float | None], list[float] | None]] = {
    "random": ([0.5, 0.7, 0.69, 0.71], [10.0, 20.0, 30.0, 40.0]),
    "gp_pi": ([0.6, 0.75, None, 0.74], [12.0, 11.0, 9.0, 13.0]),
    "grid": ([0.4, 0.45, 0.45], None),  # no energy meter
}
# Leftovers of workers killed mid-round (state RUNNING or KILLED): never rounds, whatever
# accuracy they logged.
LEFTOVERS = {"random": ("RUNNING", 0.99), "grid": ("KILLED", 0.9)}
# The random search again with a median pruner: None = a pruned round.
PRUNED_SEARCH = ([0.5, None, 0.72, None], [10.0, 3.0, 20.0, 4.0])
FACTORIAL_ROUNDS = 4
FACTORIAL_REPS = 2
IDLE_POWER_W = 5.0
REP_DURATION_S = 5.0
INFER_MODELS = ("alexnet", "shufflenet_v2_x1_0")
INFER_FREQUENCIES = (16, 128)
INFER_BATCHING = (("fixed", 16), ("fixed", 128), ("greedy", 128))


def factorial_energy(linear: int, conv: int, relu: int, rnd: int) -> float:
    """Net joules of a factorial round: conv 4 nearly doubles it, as in thesis §3.5.2."""
    return 100.0 * (1 + (conv == 4) + 0.05 * (linear == 7) + 0.03 * relu) + 0.5 * rnd


def factorial_accuracy(linear: int, conv: int, relu: int, rnd: int) -> float:
    return 0.8 + 0.02 * (conv == 4) + 0.01 * relu - 0.005 * (linear == 7) + 0.001 * rnd


def factorial_reps(linear: int, conv: int, relu: int, rnd: int) -> list[tuple[float, float]]:
    """(net joules, accuracy) of each repetition: they sum (average) to the round's figures."""
    e = factorial_energy(linear, conv, relu, rnd)
    a = factorial_accuracy(linear, conv, relu, rnd)
    return [(e / 2 - 1.0, a - 0.001), (e / 2 + 1.0, a + 0.001)]


# A user's own net and optimizers, swept with `-m net.width=4,16 optimizer=adam,sgd`.
CUSTOM_NET = "my_lab.models.TinyRes"
WIDTHS = (4, 16)
OPTIMIZERS = ("adam", "sgd")


def custom_reps(width: int, optimizer: str, rnd: int) -> list[tuple[float, float]]:
    """(net joules, accuracy) of each repetition of the custom sweep: width 16 costs about
    three times width 4, sgd a little less than adam."""
    e = 20.0 * (1 + 2 * (width == 16)) * (0.9 if optimizer == "sgd" else 1.0) + 0.3 * rnd
    a = 0.6 + 0.05 * (width == 16) - 0.02 * (optimizer == "sgd") + 0.002 * rnd
    return [(e - 0.5, a - 0.001), (e + 0.5, a + 0.001), (e + 0.1, a)]


def inference_metrics(model: str, freq: int, batching: str, size: int) -> dict[str, float]:
    scale = 1.0 if model == "alexnet" else 1.5
    mean_batch = float(size) if batching == "fixed" else (1.0 if freq == 16 else 100.0)
    return {
        "energy_per_image_j": scale * (0.1 + 1.0 / freq + 0.5 / mean_batch),
        "energy_j": scale * 8192 * (0.1 + 1.0 / freq),
        "response_max_s": mean_batch / freq + 0.01,
        "batch_size_mean": mean_batch,
        "power_peak_w_mean": scale * (60.0 + 0.2 * mean_batch),
    }


def build(uri: str) -> None:
    """Fill the store at `uri` with one experiment of known runs, one empty experiment, and
    one whose factorial rounds predate `rep_energy_net_j` (LEGACY_EXPERIMENT)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT)
    client.create_experiment(EMPTY_EXPERIMENT)
    _search_studies(client, exp)
    _factorial(client, exp, rep_net=True)
    _inference(client, exp)
    _factorial(client, client.create_experiment(LEGACY_EXPERIMENT), rep_net=False)


def _run(
    client: Any,
    exp: str,
    kind: str,
    params: dict[str, Any],
    metrics: Mapping[str, float | list[float]],
    tags: dict[str, str] | None = None,
    parent: str | None = None,
) -> str:
    from mlflow.entities import Metric, Param, RunTag

    all_tags = {"green_ai.kind": kind, **(tags or {})}
    if parent:
        all_tags["mlflow.parentRunId"] = parent
    run_id = client.create_run(exp, tags=all_tags).info.run_id
    ms = []
    for key, value in metrics.items():
        values = value if isinstance(value, list) else [value]
        ms += [Metric(key, v, 0, step) for step, v in enumerate(values)]
    client.log_batch(
        run_id,
        metrics=ms,
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in all_tags.items() if k != "mlflow.parentRunId"],
    )
    return str(run_id)  # left RUNNING: the report reads runs in any state, and it saves writes


BASE = {"epochs": 1, "rounds": 4, "repetitions": 2, "batch_size": 64, "seed": 0}
SEARCH_ARCH = {"net": "densepoly", "conv": 0, "linear": 3, "relu": 1}


def _study(
    client: Any, exp: str, name: str, params: dict[str, Any], metered: bool, overrides: str
) -> str:
    metrics = {"idle_power_w": IDLE_POWER_W} if metered else {}
    tags = {"study_name": name, "energy.kind": "measured" if metered else "none"}
    tags["hydra_overrides"] = overrides
    return _run(
        client, exp, KIND_TRAIN_STUDY, {**BASE, **params, "study_name": name}, metrics, tags
    )


def _search_studies(client: Any, exp: str) -> None:
    studies = [(s, "none", accs, energies) for s, (accs, energies) in SEARCH.items()]
    studies.append(("random", "median", *PRUNED_SEARCH))
    for search, pruner, accs, energies in studies:
        name = f"search-{search}" + (f"-{pruner}" if pruner != "none" else "")
        params = {**SEARCH_ARCH, "dataset": "synthetic", "search": search, "hparams": "adam5"}
        overrides = f"net=densepoly search={search} hparams=adam5 dataset=synthetic"
        if pruner != "none":
            params["pruner"] = pruner
            overrides += f" search.pruner={pruner}"
        parent = _study(client, exp, name, params, energies is not None, overrides)
        failed = "PRUNED" if pruner != "none" else "FAIL"
        for rnd, acc in enumerate(accs):
            metrics: dict[str, float | list[float]] = {}
            if acc is not None:
                metrics["accuracy"] = acc
            elif failed == "PRUNED":
                metrics["pruned_epoch"] = 1
            if energies:
                metrics |= {"energy_net_j": energies[rnd], "energy_j": energies[rnd] + 5.0}
            state = "COMPLETE" if acc is not None else failed
            _run(client, exp, KIND_TRAIN_ROUND, {"round": rnd}, metrics, {"state": state}, parent)
        if pruner == "none" and search in LEFTOVERS:
            state, acc = LEFTOVERS[search]
            params = {"round": len(accs)}
            _run(
                client, exp, KIND_TRAIN_ROUND, params, {"accuracy": acc}, {"state": state}, parent
            )


def _factorial(client: Any, exp: str, *, rep_net: bool) -> None:
    for linear, conv, relu in itertools.product((3, 7), (1, 4), (0, 1)):
        name = f"arch-l{linear}-c{conv}-r{relu}"
        params = {
            "net": "simplecnn",
            "conv": conv,
            "linear": linear,
            "relu": relu,
            "dataset": "synthetic",
            "search": "random",
            "hparams": "adam3",
        }
        overrides = f"+experiment=architecture linear={linear} conv={conv} relu={relu}"
        parent = _study(client, exp, name, params, True, overrides + " dataset=synthetic")
        for rnd in range(FACTORIAL_ROUNDS):
            e = factorial_energy(linear, conv, relu, rnd)
            reps = factorial_reps(linear, conv, relu, rnd)
            gross = [re + IDLE_POWER_W * REP_DURATION_S for re, _ in reps]
            metrics: dict[str, float | list[float]] = {
                "accuracy": factorial_accuracy(linear, conv, relu, rnd),
                "energy_net_j": e,
                "energy_j": e + 50.0,
                "rep_energy_j": gross,
                "rep_duration_s": [REP_DURATION_S] * len(reps),
                "rep_accuracy": [ra for _, ra in reps],
            }
            if rep_net:
                metrics["rep_energy_net_j"] = [re for re, _ in reps]
            tags = {"state": "COMPLETE"}
            _run(client, exp, KIND_TRAIN_ROUND, {"round": rnd}, metrics, tags, parent)


def build_custom(uri: str) -> None:
    """CUSTOM_EXPERIMENT: the sweep over WIDTHS × OPTIMIZERS of a `_target_` net (its
    conv/linear/relu params empty), each study's overridden keys logged as params, and one
    search study beside it (another strategy, width not overridden)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment(CUSTOM_EXPERIMENT)
    common = {"net": CUSTOM_NET, "conv": "", "linear": "", "relu": "", "dataset": "synthetic"}
    common |= {"search": "random", "hparams": "adam3", "task": "classify"}
    for width, optimizer in itertools.product(WIDTHS, OPTIMIZERS):
        name = f"tinyres-w{width}-{optimizer}"
        params = {**common, "net.width": width, "optimizer": optimizer}
        overrides = f"net.width={width} optimizer={optimizer} dataset=synthetic"
        parent = _study(client, exp, name, params, True, overrides)
        for rnd in range(FACTORIAL_ROUNDS):
            reps = custom_reps(width, optimizer, rnd)
            metrics: dict[str, float | list[float]] = {
                "accuracy": sum(a for _, a in reps) / len(reps),
                "energy_net_j": sum(e for e, _ in reps),
                "rep_energy_net_j": [e for e, _ in reps],
                "rep_accuracy": [a for _, a in reps],
            }
            _run(
                client,
                exp,
                KIND_TRAIN_ROUND,
                {"round": rnd},
                metrics,
                {"state": "COMPLETE"},
                parent,
            )
    params = {**common, "search": "gp_pi", "optimizer": "adam"}
    parent = _study(client, exp, "tinyres-gp_pi", params, True, "search=gp_pi dataset=synthetic")
    for rnd, acc in enumerate((0.55, 0.61)):
        metrics = {"accuracy": acc, "energy_net_j": 60.0}
        _run(client, exp, KIND_TRAIN_ROUND, {"round": rnd}, metrics, {"state": "COMPLETE"}, parent)


# Studies that optimised a validation loss (`search.objectives=[val_loss]
# search.directions=[minimize]`): val_loss and net joules per round, None = a failed round
# (or, with a pruner, a pruned one). Their rounds log an accuracy too, best where the loss is
# not, which the search section must not follow.
LOSS_SEARCH: dict[tuple[str, str], tuple[list[float | None], list[float]]] = {
    ("random", "none"): ([0.9, 0.5, None, 0.52, 0.45], [10.0, 10.0, 4.0, 10.0, 10.0]),
    ("gp_pi", "none"): ([1.2, 0.695, 0.704, 0.69], [5.0, 6.0, 7.0, 8.0]),
    ("random", "median"): ([0.8, None, 0.454, None], [10.0, 2.0, 10.0, 3.0]),
}
LOSS_REPS = 2
# Beside them, accuracy studies of the same net: one run that names its objective, one from
# before objectives were logged.
ACCURACY_SEARCH: dict[str, tuple[list[float], bool]] = {
    "random": ([0.5, 0.7, 0.6], True),
    "grid": ([0.4, 0.3], False),
}


def loss_accuracy(loss: float) -> float:
    """The accuracy a loss study's round logs beside its loss: highest at its worst loss."""
    return round(0.5 + loss / 4, 6)


def build_objective(uri: str) -> None:
    """OBJECTIVE_EXPERIMENT: the LOSS_SEARCH studies (params objective=val_loss,
    direction=minimize; rounds with val_loss, val_loss_std, rep_val_loss and accuracy) and the
    ACCURACY_SEARCH studies, all of one net, dataset and search space."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment(OBJECTIVE_EXPERIMENT)
    common = {**SEARCH_ARCH, "dataset": "synthetic", "hparams": "adam5", "optimizer": "adam"}
    common["task"] = "classify"
    for (search, pruner), (losses, energies) in LOSS_SEARCH.items():
        name = f"loss-{search}" + (f"-{pruner}" if pruner != "none" else "")
        params = {**common, "search": search, "objective": "val_loss", "direction": "minimize"}
        overrides = f"search={search} hparams=adam5 dataset=synthetic"
        overrides += " search.objectives=[val_loss] search.directions=[minimize]"
        if pruner != "none":
            params["pruner"] = pruner
            overrides += f" search.pruner={pruner}"
        parent = _study(client, exp, name, params, True, overrides)
        for rnd, (loss, energy) in enumerate(zip(losses, energies, strict=True)):
            metrics: dict[str, float | list[float]] = {"energy_net_j": energy}
            if loss is not None:
                metrics |= {
                    "val_loss": loss,
                    "val_loss_std": 0.01,
                    "rep_val_loss": [loss - 0.01, loss + 0.01],
                    "accuracy": loss_accuracy(loss),
                }
            elif pruner != "none":
                metrics["pruned_epoch"] = 1
            state = "COMPLETE" if loss is not None else ("PRUNED" if pruner != "none" else "FAIL")
            _run(client, exp, KIND_TRAIN_ROUND, {"round": rnd}, metrics, {"state": state}, parent)
    for search, (accs, named) in ACCURACY_SEARCH.items():
        params = {**common, "search": search}
        if named:
            params |= {"objective": "accuracy", "direction": "maximize"}
        name = f"accuracy-{search}"
        parent = _study(client, exp, name, params, True, f"search={search} dataset=synthetic")
        for rnd, acc in enumerate(accs):
            metrics = {"accuracy": acc, "energy_net_j": 10.0}
            tags = {"state": "COMPLETE"}
            _run(client, exp, KIND_TRAIN_ROUND, {"round": rnd}, metrics, tags, parent)


def custom_tidy_rows() -> list[dict[str, object]]:
    """The custom sweep as a tidy CSV's factorial rows, its factors as columns."""
    return [
        {
            "dataset": "synthetic",
            "net.width": width,
            "optimizer": optimizer,
            "round": rnd,
            "repetition": rep,
            "energy_j": e,
            "accuracy": a,
        }
        for width, optimizer in itertools.product(WIDTHS, OPTIMIZERS)
        for rnd in range(FACTORIAL_ROUNDS)
        for rep, (e, a) in enumerate(custom_reps(width, optimizer, rnd))
    ]


def _inference(client: Any, exp: str) -> None:
    for model, freq, (batching, size) in itertools.product(
        INFER_MODELS, INFER_FREQUENCIES, INFER_BATCHING
    ):
        params = {"model": model, "frequency": freq, "batching": batching, "batch_size": size}
        if batching == "greedy":
            params |= {"batch_size": None, "max_batch": size}
        _run(client, exp, KIND_INFERENCE, params, inference_metrics(model, freq, batching, size))


def tidy_rows() -> list[dict[str, object]]:
    """The training runs above as a tidy CSV's rows (green_ai.analysis.tidy): factorial rows
    per repetition, search rows per round."""
    rows: list[dict[str, object]] = []
    for linear, conv, relu in itertools.product((3, 7), (1, 4), (0, 1)):
        for rnd in range(FACTORIAL_ROUNDS):
            for rep, (e, a) in enumerate(factorial_reps(linear, conv, relu, rnd)):
                cell = {"dataset": "synthetic", "conv": conv, "linear": linear, "relu": relu}
                rows.append(
                    {**cell, "round": rnd, "repetition": rep, "energy_j": e, "accuracy": a}
                )
    studies = [(s, "none", accs, energies) for s, (accs, energies) in SEARCH.items()]
    studies.append(("random", "median", *PRUNED_SEARCH))
    for search, pruner, accs, energies in studies:
        for rnd, acc in enumerate(accs):
            state = "COMPLETE" if acc is not None else ("PRUNED" if pruner != "none" else "FAIL")
            rows.append(
                {
                    "dataset": "synthetic",
                    **SEARCH_ARCH,
                    "search": search,
                    "hparams": "adam5",
                    "pruner": pruner,
                    "round": rnd,
                    "state": state,
                    "accuracy": acc,
                    "energy_j": energies[rnd] if energies else None,
                }
            )
    return rows
