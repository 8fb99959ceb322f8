"""GPU check, part 5: a small architecture design on real NVML, in randomized run order.

`python -m green_ai.train -m net=simplecnn conv=1,4 relu=0,1 design.order=randomized` on
synthetic FashionMNIST-shaped data (thesis §3.4.2 at a few rounds): the rounds of the four
cells alternate in a seeded random order, so neither the GPU's warming nor a drifting idle
power is confounded with a cell. The section gives η² of each factor with its bootstrap
interval (Kruskal–Wallis over the repetitions, as the report computes it), the GPU's
temperature before and after and energy's drift over the sweep (Spearman), and the GPU's mean
busy % (NVML utilisation, thesis §3.6.3) over the rounds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    Part,
    fmt,
    import_pynvml,
    nvml_handle,
    parse_args,
    run_part,
    torch_uuid,
    why_not,
)

NEEDS = ("hydra", "optuna", "mlflow", "scipy", "pandas")


def sweep_args(store: Path, cpu: bool) -> list[str]:
    """The design's command line: the tiny dry run's sizes on the CPU."""
    train, test, rounds, reps = (256, 64, 2, 2) if cpu else (12_000, 2_000, 3, 3)
    return [
        "net=simplecnn",
        "conv=1,4",
        "relu=0,1",
        "linear=3",
        "dataset=synthetic",
        "dataset.shape=fashion_mnist",
        f"dataset.train_samples={train}",
        f"dataset.test_samples={test}",
        "epochs=1",
        f"rounds={rounds}",
        f"repetitions={reps}",
        "design.order=randomized",
        "design.seed=0",
        "energy=nvml",
        # The dry run trains on the CPU and reads the fake NVML's GPU 0.
        *(["device=cpu", "energy.devices=[0]"] if cpu else ["device=cuda"]),
        "progress=log",
        f"tracking.uri=sqlite:///{store}/mlflow.db",
        "tracking.experiment=gpu_check_design",
        f"study.storage=sqlite:///{store}/studies.db",
        f"hydra.sweep.dir={store}/multirun",
    ]


def temperature(part: Part) -> float | None:
    """The GPU's temperature now (°C), None where NVML does not give it."""
    nvml = import_pynvml()
    if nvml is None:
        return None
    try:
        import torch

        nvml.nvmlInit()
        device = torch.device("cpu" if part.cpu else "cuda:0")
        handle = nvml_handle(nvml, torch_uuid(device))
        return float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
    except Exception:  # noqa: BLE001 - a sensor the GPU lacks is said as n/a
        return None


def main(part: Part) -> None:
    for module in NEEDS:
        why = why_not(module)
        if why is not None:
            part.add(f"Not run: {why}.")
            return
    store = Path(tempfile.mkdtemp(prefix="design_", dir=part.out))
    command = [sys.executable, "-m", "green_ai.train", "-m", *sweep_args(store, part.cpu)]
    part.say("running: python -m green_ai.train -m " + " ".join(command[4:8]) + " ...")
    before = temperature(part)
    log = part.out / "design_sweep.log"
    with log.open("w") as out:
        done = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=max(part.left_s() - 20, 10),
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "4")},
        )
    after = temperature(part)
    order = [line for line in log.read_text().splitlines() if "order of cells" in line]
    part.say(order[0] if order else "the sweep printed no order")
    if done.returncode != 0:
        raise RuntimeError(f"the sweep failed (exit status {done.returncode}); see {log.name}")
    figures = analyse(f"sqlite:///{store}/mlflow.db")
    figures.update({"temp_c_before": before, "temp_c_after": after})
    figures["order"] = order[0].split("order of cells: ")[-1] if order else None
    part.data = figures
    part.add(*section(figures))
    for line in section(figures):
        part.say(line)


def analyse(uri: str) -> dict[str, Any]:
    """η² with its interval per factor, energy's drift over the sweep and the mean GPU busy %
    of the rounds, from the tracked runs (as the report reads them)."""
    import mlflow
    import pandas as pd

    from green_ai.analysis import factorial_tables as tables
    from green_ai.analysis import search_tables, stats
    from green_ai.analysis.load import load_experiment

    runs = load_experiment(uri, "gpu_check_design")
    rounds, _ = search_tables.with_round_energy(runs.rounds, "energy_net_j")
    _, factorials = tables.find_factorials(runs.studies, [])
    parts = []
    for f in factorials:
        ids = rounds[rounds["study_name"].isin(f.studies["study_name"])]["run_id"].tolist()
        parts.append(tables.repetition_points(rounds, runs.rep_metrics(ids), f, "energy_net_j"))
    points = pd.concat([p.frame for p in parts], ignore_index=True)
    kruskal = tables.kruskal_table(points, 2, 0.95)
    done = rounds[rounds["state"] == "COMPLETE"]
    relative = done["energy"] / done.groupby("study_name")["energy"].transform("mean")
    rho, p, n = stats.drift(done["sweep_position"], relative)
    client = mlflow.MlflowClient(uri)
    busy = [client.get_run(r).data.metrics.get("gpu_util_mean") for r in done["run_id"]]
    busy = [b for b in busy if b is not None]
    return {
        "eta2": {
            str(r.factor): [r.eta2, r.eta2_ci_low, r.eta2_ci_high, r.p]
            for r in kruskal.itertuples(index=False)
        },
        "drift_rho": rho,
        "drift_p": p,
        "rounds": n,
        "gpu_busy_pct": sum(busy) / len(busy) if busy else None,
        "temp_c_start": [float(t) for t in done["temp_c_start"].dropna()],
    }


def section(figures: dict[str, Any]) -> list[str]:
    rows = ["| factor | η² | 95 % interval (bootstrap) | p |", "| --- | ---: | --- | ---: |"]
    for factor, (eta2, low, high, p) in figures["eta2"].items():
        rows.append(f"| {factor} | {fmt(eta2)} | [{fmt(low)}, {fmt(high)}] | {fmt(p)} |")
    temps = figures["temp_c_start"]
    logged = (
        f"; `temp_c_start` of the rounds {min(temps):.0f}–{max(temps):.0f} °C" if temps else ""
    )
    return [
        f"Run order (cells 1–4 = conv1 relu0, conv1 relu1, conv4 relu0, conv4 relu1): "
        f"{figures['order']}.",
        "",
        *rows,
        "",
        f"GPU temperature: {fmt(figures['temp_c_before'])} °C before the sweep, "
        f"{fmt(figures['temp_c_after'])} °C after{logged}.",
        f"Energy's drift over the sweep (each round's energy relative to its cell's mean "
        f"against its position): Spearman ρ = {fmt(figures['drift_rho'])}, p = "
        f"{fmt(figures['drift_p'])} over {figures['rounds']} rounds.",
        f"GPU busy (NVML utilisation, mean over the rounds): {fmt(figures['gpu_busy_pct'])} %.",
    ]


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    run_part(
        main,
        Part(
            "design",
            "Architecture design, randomized run order (real NVML)",
            args.out,
            args.budget_s,
            args.cpu,
        ),
    )
