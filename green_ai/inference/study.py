"""The inference study of thesis chapter 4, one configuration at a time.

`run_inference(cfg)` takes a composed `conf/infer.yaml` and does what `cfg.mode` says:

- `run`: warm up, serve the request stream on the model in real time, and record one MLflow run
  (tag `green_ai.kind=inference`; names as in docs/architecture.md, "Inference run").
- `profile`: measure service time and gross energy per batch size, the idle power and the
  server loop's own costs, and save them as a JSON profile (`profile.path`).
- `simulate`: predict the metrics of `run` from the profile (measured first if missing).
- `recommend`: the batching with the least predicted energy per image whose predicted p99 (or
  maximum) response time stays within `recommend.limit_s` (thesis §4.5.1).

Every input is checked before a model is built (`settings_from`); bad input is a `UserError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from green_ai.devices import device_name
from green_ai.energy import EnergyMeter
from green_ai.errors import UserError
from green_ai.inference.batching import GreedyBatching
from green_ai.inference.classifiers import build_model
from green_ai.inference.console import profile_table, recommend_table, run_line
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.profile import Profile
from green_ai.inference.profiler import default_profile_path, measure_profile
from green_ai.inference.recommend import candidates, recommend
from green_ai.inference.server import ModelExecutor, Trace, serve
from green_ai.inference.settings import MODES, Settings, settings_from
from green_ai.inference.simulator import simulate
from green_ai.inference.stream import arrival_offsets
from green_ai.inference.warmup import WarmupResult, warm_up

__all__ = ["MODES", "run_inference"]

log = logging.getLogger(__name__)


def run_inference(cfg: Any) -> dict[str, Any]:
    """Do `cfg.mode` for one configuration; returns its metrics (or prediction)."""
    s = settings_from(cfg)
    if s.mode == "run":
        return run_stream(s, config=cfg)
    if s.mode == "profile":
        profile, path = profile_model(s)
        return {"profile": str(path), "batch_sizes": profile.batch_sizes}
    profile, path = load_or_measure_profile(s)
    if s.mode == "simulate":
        return predict(s, profile)
    return recommend_policy(s, profile, path)


# -- run ---------------------------------------------------------------------------------------


def run_stream(s: Settings, *, config: Any) -> dict[str, Any]:
    """Warm up, serve the stream in real time, track it in MLflow, print one line."""
    from green_ai.tracking import setup_tracking

    experiment_id = setup_tracking(s.tracking)
    executor, meter, warmup = prepare(s)
    try:
        # The MLflow run opens before serving, so a run that breaks is recorded as FAILED; its
        # writes also leave the model cold before the first batch, as the simulator assumes.
        with tracked_run(experiment_id, s, config, meter, warmup) as log_results:
            trace, energy_j = serve_stream(executor, meter, s)
            metrics = run_metrics(
                trace, energy_j=energy_j, grid_intensity_g_per_kwh=s.grid_intensity_g_per_kwh
            )
            log_results(metrics, trace)
    finally:
        meter.close()
    print(run_line("measured", s, metrics))
    return metrics.as_dict()


def prepare(s: Settings) -> tuple[ModelExecutor, EnergyMeter, WarmupResult]:
    """Model, inputs and meter, warmed up as `s.warmup` says (thesis §4.6.1)."""
    from green_ai.energy import build_meter

    if s.cpu_threads is not None:
        torch.set_num_threads(s.cpu_threads)
    torch.manual_seed(s.seed)
    model = build_model(s.model, weights=s.weights, image_size=s.image_size, device=s.device)
    pool = max(s.policy.max_batch_size, s.warmup.batch_size)
    if s.mode != "run":
        pool = max(pool, *s.profile.batch_sizes)
    g = torch.Generator().manual_seed(s.seed)
    inputs = torch.rand(pool, 3, s.image_size, s.image_size, generator=g)
    if s.device.type == "cuda":
        inputs = inputs.pin_memory()
    meter = build_meter(s.energy, s.device)
    executor = ModelExecutor(model, inputs, s.device, meter=meter)
    with torch.inference_mode():
        warmup = warm_up(executor.run_batch, s.warmup)
    return executor, meter, warmup


def serve_stream(
    executor: ModelExecutor, meter: EnergyMeter, s: Settings
) -> tuple[Trace, float | None]:
    """Serve the stream in real time inside one energy window; the trace and gross joules."""
    arrivals = _arrivals(s)
    with torch.inference_mode():
        meter.begin("run")
        executor.start()
        try:
            trace = serve(arrivals, s.policy, executor)
        finally:
            m = meter.end("run")
    if m.energy_j is None:
        log.info("energy not measured: %s", m.reason)
    lag = max(trace.wake_lags, default=0.0)
    if lag > 0.01:
        log.warning("the server woke up to %.1f ms late for an arrival", lag * 1e3)
    return trace, m.energy_j


@contextmanager
def tracked_run(
    experiment_id: str, s: Settings, config: Any, meter: EnergyMeter, warmup: WarmupResult
) -> Iterator[Callable[[RunMetrics, Trace], None]]:
    """An MLflow run with its tags, params (named ones win over the flattened config: `device`
    is the resolved one, `batch_size` says `none` for greedy) and config; yields the function
    that logs the results."""
    import mlflow
    from omegaconf import OmegaConf

    from green_ai.tracking import KIND_INFERENCE, flatten_config, git_commit, hydra_overrides

    def log_results(metrics: RunMetrics, trace: Trace) -> None:
        mlflow.log_metrics({**metrics.as_dict(), "warmup_s": warmup.seconds})
        mlflow.log_text(batches_csv(trace), "batches.csv")

    with mlflow.start_run(experiment_id=experiment_id, run_name=_label(s)):
        mlflow.set_tags(
            {
                "green_ai.kind": KIND_INFERENCE,
                "git_commit": git_commit(),
                "hydra_overrides": hydra_overrides(),
                "device": device_name(s.device),
                "energy.backend": meter.backend,
                "energy.kind": meter.kind,
            }
        )
        params = {**flatten_config(config), **s.params(), "warmup_batches": str(warmup.batches)}
        mlflow.log_params(params)
        mlflow.log_text(OmegaConf.to_yaml(config, resolve=True), "config.yaml")
        yield log_results


def batches_csv(trace: Trace) -> str:
    """One row per batch: its requests, times and energy (empty where not measured)."""
    frame = pd.DataFrame(
        [(b.first, b.size, b.start_s, b.end_s, b.energy_j, b.power_peak_w) for b in trace.batches],
        columns=["first", "size", "start_s", "end_s", "energy_j", "power_peak_w"],
    )
    return frame.to_csv(index=False, float_format="%.9g")


# -- profile, simulate, recommend --------------------------------------------------------------


def profile_path(s: Settings) -> Path:
    """`profile.path`, or the default name with the real device."""
    return (
        Path(s.profile.path)
        if s.profile.path
        else default_profile_path(s.model, s.image_size, s.device)
    )


def profile_model(s: Settings) -> tuple[Profile, Path]:
    """Measure the profile, save it, print it."""
    executor, meter, warmup = prepare(s)
    meta = {
        "model": s.model,
        "weights": s.weights,
        "image_size": s.image_size,
        "device": device_name(s.device),
        "cpu_threads": s.cpu_threads or torch.get_num_threads(),
        "torch": torch.__version__,
        "warmup": warmup.describe(),
    }
    try:
        with torch.inference_mode():
            profile = measure_profile(executor, meter, s.profile, meta=meta)
    finally:
        meter.close()
    path = profile_path(s)
    profile.save(path)
    print(profile_table(profile, path))
    return profile, path


def load_or_measure_profile(s: Settings) -> tuple[Profile, Path]:
    """The saved profile of this model, size and device, or a new one."""
    path = profile_path(s)
    if not path.exists():
        log.info("no profile at %s: measuring it now", path)
        return profile_model(s)
    profile = Profile.load(path)
    meta = profile.meta
    wanted = {"model": s.model, "image_size": s.image_size, "device": device_name(s.device)}
    if any(meta.get(k) not in (None, v) for k, v in wanted.items()):
        raise UserError(
            f"the profile {path} is of {meta.get('model')} at {meta.get('image_size')}px on "
            f"{meta.get('device')}, not {s.model} at {s.image_size}px on {wanted['device']}; "
            "point profile.path elsewhere"
        )
    log.info("profile: %s", path)
    return profile, path


def predict(s: Settings, profile: Profile) -> dict[str, Any]:
    """Simulate the configured run from the profile and print it like a real one."""
    t = time.perf_counter()
    metrics, _ = simulate(
        profile,
        _arrivals(s),
        s.policy,
        seed=s.seed,
        grid_intensity_g_per_kwh=s.grid_intensity_g_per_kwh,
    )
    log.info("simulated %d requests in %.3f s", s.requests, time.perf_counter() - t)
    print(run_line("predicted", s, metrics))
    return metrics.as_dict()


def recommend_policy(s: Settings, profile: Profile, path: Path) -> dict[str, Any]:
    """Rank every candidate policy by predicted energy; print the table and the command."""
    r = s.recommend
    greedy_max = (
        s.policy.max_batch if isinstance(s.policy, GreedyBatching) else GreedyBatching().max_batch
    )
    policies = candidates(
        r.batch_sizes or profile.batch_sizes, max_batch=greedy_max, max_delays_s=r.max_delays_s
    )
    best, ranked = recommend(
        profile,
        _arrivals(s),
        policies,
        limit_s=r.limit_s,
        statistic=r.statistic,
        seed=s.seed,
        grid_intensity_g_per_kwh=s.grid_intensity_g_per_kwh,
    )
    print(recommend_table(s, ranked, best, path))
    if best is None:
        return {"recommended": None}
    return {"recommended": best.label, **best.metrics.as_dict()}


def _arrivals(s: Settings) -> np.ndarray:
    return arrival_offsets(
        frequency=s.frequency, requests=s.requests, arrivals=s.arrivals, seed=s.seed
    )


def _label(s: Settings) -> str:
    return f"{s.model}-{s.policy.describe()}-f{s.frequency:g}-{s.arrivals}"
