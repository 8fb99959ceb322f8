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

# Search studies: accuracy and net energy per round; None = failed round.
SEARCH: dict[str, tuple[list[float | None], list[float] | None]] = {
    "random": ([0.5, 0.7, 0.69, 0.71], [10.0, 20.0, 30.0, 40.0]),
    "gp_pi": ([0.6, 0.75, None, 0.74], [12.0, 11.0, 9.0, 13.0]),
    "grid": ([0.4, 0.45, 0.45], None),  # no energy meter
}
FACTORIAL_ROUNDS = 3
INFER_MODELS = ("alexnet", "shufflenet_v2_x1_0")
INFER_FREQUENCIES = (16, 128)
INFER_BATCHING = (("fixed", 16), ("fixed", 128), ("greedy", 128))


def factorial_energy(linear: int, conv: int, relu: int, rnd: int) -> float:
    """Net joules of a factorial round: conv 4 nearly doubles it, as in thesis §3.5.2."""
    return 100.0 * (1 + (conv == 4) + 0.05 * (linear == 7) + 0.03 * relu) + 0.5 * rnd


def factorial_accuracy(linear: int, conv: int, relu: int, rnd: int) -> float:
    return 0.8 + 0.02 * (conv == 4) + 0.01 * relu - 0.005 * (linear == 7) + 0.001 * rnd


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
    """Fill the store at `uri` with one experiment of known runs and one empty experiment."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT)
    client.create_experiment(EMPTY_EXPERIMENT)

    def run(
        kind: str,
        params: dict[str, Any],
        metrics: Mapping[str, float | list[float]],
        tags: dict[str, str] | None = None,
        parent: str | None = None,
    ) -> str:
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
        return run_id  # left RUNNING: the report reads runs in any state, and it saves writes

    base = {"epochs": 1, "rounds": 4, "repetitions": 2, "batch_size": 64, "seed": 0}

    def study(name: str, params: dict[str, Any], kind_tag: str) -> str:
        return run(
            KIND_TRAIN_STUDY,
            {**base, **params, "study_name": name},
            {},
            {"study_name": name, "energy.kind": kind_tag},
        )

    for search, (accs, energies) in SEARCH.items():
        name = f"search-{search}"
        arch = {"net": "densepoly", "conv": 0, "linear": 3, "relu": 1}
        params = {**arch, "dataset": "synthetic", "search": search, "hparams": "adam5"}
        parent = study(name, params, "measured" if energies else "none")
        for rnd, acc in enumerate(accs):
            metrics: dict[str, float | list[float]] = {}
            if acc is not None:
                metrics["accuracy"] = acc
            if energies:
                metrics |= {"energy_net_j": energies[rnd], "energy_j": energies[rnd] + 5.0}
            state = "COMPLETE" if acc is not None else "FAIL"
            run(KIND_TRAIN_ROUND, {"round": rnd, "lr": 0.001}, metrics, {"state": state}, parent)

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
        parent = study(name, params, "measured")
        for rnd in range(FACTORIAL_ROUNDS):
            e = factorial_energy(linear, conv, relu, rnd)
            a = factorial_accuracy(linear, conv, relu, rnd)
            rmetrics: dict[str, float | list[float]] = {
                "accuracy": a,
                "energy_net_j": e,
                "energy_j": e + 50.0,
                "rep_energy_j": [e / 2 - 1.0, e / 2 + 1.0],
                "rep_accuracy": [a - 0.001, a + 0.001],
            }
            run(
                KIND_TRAIN_ROUND,
                {"round": rnd, "lr": 0.01},
                rmetrics,
                {"state": "COMPLETE"},
                parent,
            )

    for model, freq, (batching, size) in itertools.product(
        INFER_MODELS, INFER_FREQUENCIES, INFER_BATCHING
    ):
        params = {"model": model, "frequency": freq, "batching": batching, "batch_size": size}
        if batching == "greedy":
            params |= {"batch_size": None, "max_batch": size}
        run(KIND_INFERENCE, params, inference_metrics(model, freq, batching, size))
