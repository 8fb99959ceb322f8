"""GPU check, part 4: inference latency of the thesis's five models, with CUDA synchronisation.

AlexNet, DenseNet-121, ShuffleNetV2 x1.0, ViT-B/16 and ConvNeXt-Tiny (thesis §4.2.1), random
weights, 224 px, batch 1 and 32. Three clocks per batch:

- `synced`: the study's own service time, `ModelExecutor.run_batch` (inputs copied from the
  host, forward pass, classes back on the host, device synchronised), read on the host clock;
- `GPU`: CUDA events around the forward pass on inputs already on the GPU;
- `unsynced`: the host time of the same forward call without waiting for the GPU, which is
  what the thesis testbed read (SPEC, "Known defects"): most GPU work falls outside it.

The synced passes are one window of the package's NVML meter: joules per image, idle
included, as the inference study reports them (thesis §4.2.3).
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from _common import Part, build_nvml_meter, fmt, parse_args, run_part, sync, why_not

MODELS = ("alexnet", "densenet121", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny")


def builder(device: Any, image_size: int) -> tuple[Any, str]:
    """A function name -> model in eval mode on `device`, and which code builds it."""
    import torchvision

    if why_not("green_ai.inference") is None:
        from green_ai.inference import build_model

        def build(name: str) -> Any:
            return build_model(name, weights=None, image_size=image_size, device=device)

        return build, "green_ai.inference.build_model"

    def fallback(name: str) -> Any:
        # As build_model does: a random ViT takes its input size at construction.
        kwargs = {"image_size": image_size} if name.startswith("vit_") else {}
        return torchvision.models.get_model(name, weights=None, **kwargs).eval().to(device)

    return fallback, "torchvision.models.get_model (green_ai.inference does not import)"


def main(part: Part) -> None:
    import torch

    device = torch.device("cpu" if part.cpu else "cuda:0")
    image_size, batches, max_passes = (64, (1, 2), 2) if part.cpu else (224, (1, 32), 100)
    build, built_by = builder(device, image_size)
    inputs = torch.randn(max(batches), 3, image_size, image_size)
    if device.type == "cuda":
        inputs = inputs.pin_memory()
    executor_why = why_not("green_ai.inference")
    meter: Any = None
    meter_why = why_not("green_ai.energy")
    if meter_why is None:
        try:
            meter = build_nvml_meter(device, counter=True, interval_s=0.01)
        except Exception as exc:
            meter_why = f"{type(exc).__name__}: {exc}"

    def run_batch_fn(model: Any) -> Any:
        if executor_why is None:
            from green_ai.inference import ModelExecutor

            return ModelExecutor(model, inputs, device).run_batch

        def run_batch(size: int) -> Any:  # the same steps as ModelExecutor.run_batch
            preds = model(inputs[:size].to(device, non_blocking=True)).argmax(dim=1).cpu()
            sync(device)
            return preds

        return run_batch

    rows = [
        f"Random weights, {image_size}×{image_size} px, fp32, `torch.inference_mode`; models "
        f"built by {built_by}; synced passes by "
        + ("`ModelExecutor.run_batch`." if executor_why is None else f"own code ({executor_why}).")
        + " Times are medians (p90 in brackets) in milliseconds per batch; the package's NVML"
        " meter polls every 10 ms meanwhile, as in the inference study.",
        "",
        "| model | batch | synced ms | GPU ms | unsynced ms | images/s | J/image | passes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    part.add(*rows)
    part.data["rows"] = []
    items = [(m, b) for m in MODELS for b in batches]
    for i, name in enumerate(MODELS):
        left_items = len(items) - i * len(batches)
        if part.left_s() < 5:
            part.add(f"| {name} | | not run: time budget | | | | | |")
            continue
        part.say(f"{name}: building")
        model = build(name)
        run_batch = run_batch_fn(model)
        for b in batches:
            slot = min(8.0, part.left_s() / max(left_items, 1))
            left_items -= 1
            with torch.inference_mode():
                row = measure(run_batch, model, inputs[:b].to(device), b, slot, max_passes, meter)
            part.say(
                f"{name} batch {b}: synced {fmt(row['synced_ms'])} ms, GPU "
                f"{fmt(row['gpu_ms'])} ms, unsynced {fmt(row['unsynced_ms'])} ms"
            )
            j = row["energy_j"] / (row["passes"] * b) if row["energy_j"] is not None else None
            part.data["rows"].append({"model": name, "batch": b, **row})
            part.add(
                f"| {name} | {b} | {fmt(row['synced_ms'])} ({fmt(row['synced_p90_ms'])}) | "
                f"{fmt(row['gpu_ms'])} | {fmt(row['unsynced_ms'])} | "
                f"{b / row['synced_ms'] * 1000:.4g} | {fmt(j)} | {row['passes']} |"
            )
        del model, run_batch
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if meter is not None:
        meter.close()
    else:
        part.add("", f"Joules per image not measured: {meter_why}")
    part.write()


def measure(
    run_batch: Any, model: Any, x_dev: Any, size: int, slot_s: float, max_passes: int, meter: Any
) -> dict[str, Any]:
    """Warm up, then time synced passes, then event-timed and unsynced forward passes; each
    timed group gets at most half of `slot_s` (and `max_passes`)."""
    import torch

    cuda = x_dev.device.type == "cuda"
    warm_until = time.perf_counter() + (min(1.0, slot_s / 5) if cuda else 0.0)
    run_batch(size)  # on the GPU: kernels chosen, memory pooled, clocks up
    while time.perf_counter() < warm_until:
        run_batch(size)
    synced: list[float] = []
    if meter is not None:
        meter.begin("batches")
    until = time.perf_counter() + slot_s / 2
    while len(synced) < max_passes and (not synced or time.perf_counter() < until):
        started = time.perf_counter()
        run_batch(size)
        synced.append(time.perf_counter() - started)
    m = meter.end("batches") if meter is not None else None
    gpu: list[float] = []
    unsynced: list[float] = []
    until = time.perf_counter() + slot_s / 2
    while len(unsynced) < max_passes and (not unsynced or time.perf_counter() < until):
        sync(x_dev.device)
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        started = time.perf_counter()
        model(x_dev)
        unsynced.append(time.perf_counter() - started)
        if cuda:
            end.record()
            end.synchronize()
            gpu.append(start.elapsed_time(end) / 1000)
    ms = 1000.0
    return {
        "synced_ms": statistics.median(synced) * ms,
        "synced_p90_ms": sorted(synced)[math.ceil(0.9 * len(synced)) - 1] * ms,  # nearest rank
        "gpu_ms": statistics.median(gpu) * ms if gpu else None,
        "unsynced_ms": statistics.median(unsynced) * ms,
        "passes": len(synced),
        "energy_j": None if m is None else m.energy_j,
    }


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    title = "Inference latency: the thesis's five models, CUDA-synchronised"
    run_part(main, Part("inference", title, args.out, args.budget_s, args.cpu))
