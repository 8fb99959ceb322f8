"""The inference study of thesis chapter 4, one configuration at a time.

`run_inference(cfg)` takes a composed `conf/infer.yaml` and does what `cfg.mode` says:

- `run`: warm up, serve the request stream on the model in real time, and record one MLflow run
  (tag `green_ai.kind=inference`; names as in docs/architecture.md, "Inference run").
- `profile`: measure service time and gross energy per batch size and the idle power, and save
  them as a JSON profile (`profile.path`).
- `simulate`: predict the metrics of `run` from the profile (measured first if missing).
- `recommend`: the batching with the least predicted energy per image whose predicted p99 (or
  maximum) response time stays within `recommend.limit_s` (thesis §4.5.1).

Every input is checked before a model is built; bad input is a `UserError`.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from green_ai.devices import device_name, resolve_device
from green_ai.errors import UserError
from green_ai.inference.batching import BatchingPolicy, make_policy
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.classifiers import build_model, check_image_size
from green_ai.inference.server import ModelExecutor, Trace, serve
from green_ai.inference.simulator import Profile, candidates, recommend, simulate
from green_ai.inference.stream import arrival_offsets

__all__ = ["MODES", "Settings", "run_inference", "settings_from"]

log = logging.getLogger(__name__)

MODES = ("run", "profile", "simulate", "recommend")


@dataclass(frozen=True)
class Settings:
    """The checked settings of one configuration."""

    mode: str
    model: str
    weights: str | None
    image_size: int
    device: torch.device
    frequency: float
    arrivals: str
    requests: int
    seed: int
    policy: BatchingPolicy
    warmup_batches: int
    warmup_batch_size: int
    cpu_threads: int | None = None

    def params(self) -> dict[str, str]:
        """The named MLflow params; settings a policy does not use are `none`."""
        p = self.policy
        return {
            "model": self.model,
            "weights": str(self.weights),
            "frequency": f"{self.frequency:g}",
            "arrivals": self.arrivals,
            "batching": p.name,
            "batch_size": str(getattr(p, "batch_size", "none")),
            "max_batch": str(getattr(p, "max_batch", "none")),
            "max_delay_s": str(getattr(p, "max_delay_s", "none")),
            "requests": str(self.requests),
            "image_size": str(self.image_size),
            "device": str(self.device),
            "seed": str(self.seed),
            "warmup_batches": str(self.warmup_batches),
            "warmup_batch_size": str(self.warmup_batch_size),
            "cpu_threads": str(self.cpu_threads or torch.get_num_threads()),
        }


def _int(cfg: DictConfig, key: str, low: int) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{key}={value!r} must be an integer >= {low}")
    return value


def settings_from(cfg: DictConfig) -> Settings:
    """Check every input of `cfg`; the first problem is a `UserError` naming the key."""
    mode = str(cfg.mode)
    if mode not in MODES:
        raise UserError(f"mode={mode!r} is unknown; choose one of {', '.join(MODES)}")
    frequency = cfg.frequency
    requests = cfg.requests
    arrivals = str(cfg.arrivals)
    seed = _int(cfg, "seed", 0)
    arrival_offsets(frequency=frequency, requests=requests, arrivals=arrivals, seed=seed)
    b = cfg.batching
    policy = make_policy(
        str(b.policy),
        batch_size=b.get("batch_size", cfg.batch_size),
        max_batch=b.get("max_batch", 128),
        max_delay_s=b.get("max_delay_s", 0.1),
    )
    image_size = cfg.image_size
    weights = cfg.model.get("weights")
    check_image_size(str(cfg.model.name), image_size, weights=weights)
    if mode == "recommend":
        limit = cfg.recommend.limit_s
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
            raise UserError(f"recommend.limit_s={limit!r} must be a number of seconds > 0")
    return Settings(
        mode=mode,
        model=str(cfg.model.name),
        weights=None if weights is None else str(weights),
        image_size=image_size,
        device=resolve_device(str(cfg.device)),
        frequency=float(frequency),
        arrivals=arrivals,
        requests=requests,
        seed=seed,
        policy=policy,
        warmup_batches=_int(cfg, "warmup.batches", 0),
        warmup_batch_size=_int(cfg, "warmup.batch_size", 1),
        cpu_threads=None if cfg.get("cpu_threads") is None else _int(cfg, "cpu_threads", 1),
    )


def run_inference(cfg: DictConfig) -> dict[str, Any]:
    """Do `cfg.mode` for one configuration; returns its metrics (or prediction)."""
    s = settings_from(cfg)
    if s.mode == "run":
        return _run(cfg, s)
    if s.mode == "profile":
        profile = _measure_profile(cfg, s)
        return {"profile": str(cfg.profile.path), "batch_sizes": profile.batch_sizes}
    profile = _load_or_measure_profile(cfg, s)
    arrivals = _arrivals(s)
    if s.mode == "simulate":
        t = time.perf_counter()
        metrics, _ = simulate(profile, arrivals, s.policy)
        log.info("simulated %d requests in %.3f s", s.requests, time.perf_counter() - t)
        print(f"predicted {_label(s)}: {_summary(metrics)}")
        return metrics.as_dict()
    return _recommend(cfg, s, profile, arrivals)


# -- run ---------------------------------------------------------------------------------------


def _run(cfg: DictConfig, s: Settings) -> dict[str, Any]:
    import mlflow

    from green_ai.tracking import (
        KIND_INFERENCE,
        flatten_config,
        git_commit,
        hydra_overrides,
        setup_tracking,
    )

    experiment_id = setup_tracking(cfg.tracking)
    executor, meter = _prepare(cfg, s)
    try:
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
            # Named params win over the flattened config: `device` is the resolved one and
            # `batch_size` says `none` for greedy.
            mlflow.log_params({**flatten_config(cfg), **s.params()})
            mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
            trace, energy_j = _serve_stream(executor, meter, s)
            metrics = run_metrics(trace, energy_j=energy_j)
            mlflow.log_metrics(metrics.as_dict())
            mlflow.log_text(_batches_csv(trace), "batches.csv")
    finally:
        meter.close()
    print(f"{_label(s)}: {_summary(metrics)}")
    return metrics.as_dict()


def _prepare(cfg: DictConfig, s: Settings) -> tuple[ModelExecutor, Any]:
    """Model, inputs and meter, warmed up (thesis §4.6.1: 256 batches of 32 before a run)."""
    from green_ai.energy import build_meter

    if s.cpu_threads is not None:
        torch.set_num_threads(s.cpu_threads)
    torch.manual_seed(s.seed)
    model = build_model(s.model, weights=s.weights, image_size=s.image_size, device=s.device)
    pool = max(s.policy.max_batch_size, s.warmup_batch_size)
    if s.mode in ("profile", "simulate", "recommend"):
        pool = max(pool, *(int(b) for b in cfg.profile.batch_sizes))
    g = torch.Generator().manual_seed(s.seed)
    inputs = torch.rand(pool, 3, s.image_size, s.image_size, generator=g)
    if s.device.type == "cuda":
        inputs = inputs.pin_memory()
    meter = build_meter(cfg.energy, s.device)
    executor = ModelExecutor(model, inputs, s.device, meter=meter)
    t = time.perf_counter()
    with torch.inference_mode():
        for _ in range(s.warmup_batches):
            executor.run_batch(s.warmup_batch_size)
    log.info(
        "warm-up: %d batches of %d in %.1f s",
        s.warmup_batches,
        s.warmup_batch_size,
        time.perf_counter() - t,
    )
    return executor, meter


def _arrivals(s: Settings) -> np.ndarray:
    return arrival_offsets(
        frequency=s.frequency, requests=s.requests, arrivals=s.arrivals, seed=s.seed
    )


def _serve_stream(executor: ModelExecutor, meter: Any, s: Settings) -> tuple[Trace, float | None]:
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


def _batches_csv(trace: Trace) -> str:
    rows = ["first,size,start_s,end_s,energy_j,power_peak_w"]
    for b in trace.batches:
        rows.append(
            f"{b.first},{b.size},{b.start_s:.6f},{b.end_s:.6f},"
            f"{'' if b.energy_j is None else b.energy_j},"
            f"{'' if b.power_peak_w is None else b.power_peak_w}"
        )
    return "\n".join(rows) + "\n"


# -- profile, simulate, recommend --------------------------------------------------------------


def _measure_profile(cfg: DictConfig, s: Settings) -> Profile:
    """Service time and gross energy per batch at each `profile.batch_sizes`, back to back and
    after each pause of `profile.pauses_s`, then the idle power over `profile.idle_s` seconds.

    Batches go through the same `ModelExecutor.process` as a real run, meter windows included,
    so the profile prices what serving costs, not a bare forward pass.
    """
    p = cfg.profile
    sizes = sorted({int(b) for b in p.batch_sizes})
    if not sizes or sizes[0] < 1:
        raise UserError(f"profile.batch_sizes={list(p.batch_sizes)} must be integers >= 1")
    pauses = sorted({float(x) for x in (p.get("pauses_s") or [])})
    if any(x <= 0 for x in pauses):
        raise UserError(f"profile.pauses_s={pauses} must be seconds > 0")
    min_time, min_repeats = float(p.min_time_s), int(p.min_repeats)
    executor, meter = _prepare(cfg, s)
    hot_s: list[float] = []
    hot_j: list[float | None] = []
    cold_s: list[list[float]] = [[] for _ in pauses]
    cold_j: list[list[float | None]] = [[] for _ in pauses]
    peak: list[float | None] = []
    try:
        with torch.inference_mode():
            for size in sizes:
                first = executor.process(0, size)  # also warms up this shape
                once = max(first.end_s - first.start_s, 1e-6)
                # Back to back, inside one window spanning many power samples (10 ms apart).
                # Start-to-start intervals include what the loop does between batches; their
                # median ignores the odd stall on a shared machine.
                repeats = max(min_repeats, math.ceil(min_time / once), 2)
                meter.begin("profile")
                hot = [executor.process(0, size) for _ in range(repeats)]
                m = meter.end("profile")
                starts = [b.start_s for b in hot]
                hot_s.append(statistics.median(np.diff(starts).tolist()))
                hot_j.append(None if m.energy_j is None else m.energy_j / repeats)
                peak.append(_mean_or_none([b.power_peak_w for b in hot]))
                for k, pause in enumerate(pauses):
                    cold = []
                    for _ in range(max(min_repeats, math.ceil(min_time / (pause + once)))):
                        time.sleep(pause)
                        cold.append(executor.process(0, size))
                    cold_s[k].append(statistics.median(b.end_s - b.start_s for b in cold))
                    cold_j[k].append(_mean_or_none([b.energy_j for b in cold]))
                log.info("profile: batch %d: %.2f ms back to back", size, hot_s[-1] * 1e3)
        idle_power = None
        if float(p.idle_s) > 0:
            meter.begin("idle")
            time.sleep(float(p.idle_s))
            m = meter.end("idle")
            if m.energy_j is not None and m.duration_s > 0:
                idle_power = m.energy_j / m.duration_s
        backend, kind = meter.backend, meter.kind
    finally:
        meter.close()
    profile = Profile(
        batch_sizes=sizes,
        service_s=hot_s,
        energy_j=_all_or_none(hot_j),
        power_peak_w=_all_or_none(peak),
        idle_power_w=idle_power,
        pauses_s=pauses or None,
        service_cold_s=cold_s or None,
        energy_cold_j=_rows_or_none(cold_j) if pauses else None,
        meta={
            "model": s.model,
            "weights": s.weights,
            "image_size": s.image_size,
            "device": device_name(s.device),
            "energy.backend": backend,
            "energy.kind": kind,
            "torch": torch.__version__,
        },
    )
    profile.save(str(p.path))
    print(f"profile of {s.model} at {s.image_size}px on {device_name(s.device)} -> {p.path}")
    print("  batch   back to back" + "".join(f"   after {x:g} s pause" for x in pauses))
    for i, size in enumerate(sizes):
        line = f"  {size:5d}  {hot_s[i] * 1e3:9.2f} ms {_j(_at(profile.energy_j, i)):>11s}"
        for k in range(len(pauses)):
            energy = None if profile.energy_cold_j is None else profile.energy_cold_j[k][i]
            line += f"  {cold_s[k][i] * 1e3:9.2f} ms {_j(energy):>11s}"
        print(line)
    print(f"  idle power: {'not measured' if idle_power is None else f'{idle_power:.2f} W'}")
    return profile


def _all_or_none(values: list[float | None]) -> list[float] | None:
    """The list when every value was measured; a partial list would mislead the simulator."""
    return None if any(v is None for v in values) else [float(v or 0.0) for v in values]


def _rows_or_none(rows: list[list[float | None]]) -> list[list[float]] | None:
    checked = [_all_or_none(row) for row in rows]
    return None if any(row is None for row in checked) else [row or [] for row in checked]


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known and len(known) == len(values) else None


def _at(values: list[float] | None, i: int) -> float | None:
    return None if values is None else values[i]


def _load_or_measure_profile(cfg: DictConfig, s: Settings) -> Profile:
    path = Path(str(cfg.profile.path))
    if path.exists():
        profile = Profile.load(path)
        meta = profile.meta
        if meta.get("model") not in (None, s.model) or meta.get("image_size") not in (
            None,
            s.image_size,
        ):
            raise UserError(
                f"the profile {path} is of {meta.get('model')} at {meta.get('image_size')}px, "
                f"not {s.model} at {s.image_size}px; point profile.path elsewhere"
            )
        log.info("profile: %s", path)
        return profile
    log.info("no profile at %s: measuring it now", path)
    return _measure_profile(cfg, s)


def _recommend(
    cfg: DictConfig, s: Settings, profile: Profile, arrivals: np.ndarray
) -> dict[str, Any]:
    r = cfg.recommend
    sizes = r.batch_sizes if r.get("batch_sizes") is not None else profile.batch_sizes
    policies = candidates(
        [int(b) for b in sizes],
        max_batch=int(cfg.batching.get("max_batch", 128)),
        max_delays_s=[float(d) for d in r.max_delays_s],
    )
    best, ranked = recommend(
        profile, arrivals, policies, limit_s=float(r.limit_s), statistic=str(r.statistic)
    )
    print(
        f"{s.model} at {s.frequency:g} requests/s ({s.arrivals}), "
        f"{r.statistic} response time <= {r.limit_s} s, predicted:"
    )
    for c in ranked:
        mark = "*" if c is best else " "
        print(f" {mark} {c.label:24s} {_summary(c.metrics)}")
    if best is None:
        print(f"no batching meets {r.statistic} <= {r.limit_s} s; raise recommend.limit_s")
        return {"recommended": None}
    print(f"recommended: {best.label}")
    return {"recommended": best.label, **best.metrics.as_dict()}


# -- printing ----------------------------------------------------------------------------------


def _label(s: Settings) -> str:
    return f"{s.model}-{s.policy.describe()}-f{s.frequency:g}-{s.arrivals}"


def _j(value: float | None) -> str:
    return "energy n/a" if value is None else f"{value:.4g} J"


def _summary(m: RunMetrics) -> str:
    return (
        f"{_j(m.energy_per_image_j)}/image, response max {m.response_max_s:.3f} s "
        f"p99 {m.response_p99_s:.3f} s p50 {m.response_p50_s:.3f} s, "
        f"{m.batches} batches of {m.batch_size_mean:.1f}, "
        f"lag max {m.arrival_lag_max_s * 1e3:.1f} ms"
    )
