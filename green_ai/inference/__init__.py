"""The inference study (thesis chapter 4): request stream, batching, server, simulator.

from green_ai.inference import run_inference
run_inference(cfg)   # cfg composed from conf/infer.yaml; cfg.mode = run|profile|simulate|recommend
"""

from __future__ import annotations

from green_ai.inference.batching import (
    POLICIES,
    BatchingPolicy,
    Decision,
    FixedBatching,
    GreedyBatching,
    TimeoutBatching,
    make_policy,
)
from green_ai.inference.metrics import RunMetrics, run_metrics
from green_ai.inference.classifiers import (
    build_model,
    check_image_size,
    classification_models,
    resolve_device,
)
from green_ai.inference.server import BatchRecord, ModelExecutor, Trace, serve, verify
from green_ai.inference.simulator import (
    Candidate,
    Profile,
    VirtualExecutor,
    candidates,
    recommend,
    simulate,
)
from green_ai.inference.stream import ARRIVALS, arrival_offsets
from green_ai.inference.study import MODES, Settings, run_inference, settings_from

__all__ = [
    "ARRIVALS",
    "MODES",
    "POLICIES",
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
    "arrival_offsets",
    "build_model",
    "candidates",
    "check_image_size",
    "classification_models",
    "make_policy",
    "recommend",
    "resolve_device",
    "run_inference",
    "run_metrics",
    "serve",
    "settings_from",
    "simulate",
    "verify",
]
