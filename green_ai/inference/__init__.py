"""The inference study (thesis chapter 4): request stream, batching, server, simulator.

from green_ai.inference import run_inference
run_inference(cfg)   # cfg composed from conf/infer.yaml; cfg.mode = run|profile|simulate|recommend

Modules, one job each: `stream` (arrival times), `batching` (policies), `server` (the loop and
the real executor), `classifiers` (torchvision models), `warmup`, `profile` (what a model
costs) and `profiler` (measuring it), `simulator` (virtual-time replay), `recommend`
(thesis §4.5.1), `metrics`, `console` (what is printed), `settings` (checked config) and
`study` (one configuration, per mode).
"""

from __future__ import annotations

from green_ai.inference.batching import (
    BatchingPolicy,
    Decision,
    FixedBatching,
    GreedyBatching,
    TimeoutBatching,
    make_policy,
    policy_overrides,
)
from green_ai.inference.classifiers import (
    build_model,
    check_image_size,
    classification_models,
    resolve_device,
)
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.profile import Profile
from green_ai.inference.recommend import Candidate, candidates, recommend
from green_ai.inference.server import BatchRecord, ModelExecutor, Trace, serve, verify
from green_ai.inference.settings import MODES, Settings, settings_from
from green_ai.inference.simulator import VirtualExecutor, simulate
from green_ai.inference.stream import ARRIVALS, arrival_offsets
from green_ai.inference.study import run_inference
from green_ai.inference.warmup import WarmupResult, warm_up

__all__ = [
    "ARRIVALS",
    "MODES",
    "BatchRecord",
    "BatchingPolicy",
    "Candidate",
    "Decision",
    "FixedBatching",
    "GreedyBatching",
    "ModelExecutor",
    "Profile",
    "RunMetrics",
    "Settings",
    "TimeoutBatching",
    "Trace",
    "VirtualExecutor",
    "WarmupResult",
    "arrival_offsets",
    "build_model",
    "candidates",
    "check_image_size",
    "classification_models",
    "make_policy",
    "policy_overrides",
    "recommend",
    "resolve_device",
    "run_inference",
    "run_metrics",
    "serve",
    "settings_from",
    "simulate",
    "verify",
    "warm_up",
]
