"""GPU check, part 2: the NVML energy counter against power polling and nvidia-smi.

One job, measured by every method at the same time (docs/energy-validation.md):

- `counter`: the package's NVML meter on the hardware energy counter (`energy.counter=true`);
- `poll 100 ms`, `poll 10 ms`: the package's NVML meter integrating `nvmlDeviceGetPowerUsage`
  samples (`energy.counter=false`, thesis §3.3.3 and §4.2.3);
- `nvidia-smi 100 ms`: `nvidia-smi --query-gpu=timestamp,power.draw -lms 100`, integrated over
  the same wall-clock interval (the thesis testbed's source, sampled properly);
- `instant 10 ms` (and `nvidia-smi instant` where the driver has it): the instant power field,
  which this check samples itself. On Ampere and later `nvmlDeviceGetPowerUsage` is a one-second
  average, which would blur the per-batch peak power the inference study reports.

The job runs phases with different power shapes: idle, a step to a steady matrix-product load,
150 ms bursts, 20 ms spikes, and SimpleCNN training steps. Each phase is a window in every
meter; the table gives joules per method and the ratio to the counter. Before the job,
`meter.measure_idle()` gives the idle power a study would subtract.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Part,
    build_nvml_meter,
    field_power_w,
    fmt,
    import_pynvml,
    nvml_handle,
    parse_args,
    ratio,
    run_part,
    sync,
    text,
    torch_uuid,
    why_not,
)

METHODS = (
    "counter",
    "poll 100 ms",
    "poll 10 ms",
    "nvidia-smi 100 ms",
    "instant 10 ms",
    "nvidia-smi instant",
)


@dataclass(frozen=True)
class Sizes:
    settle_s: float
    idle_s: float  # measure_idle()
    phase_s: dict[str, float]
    matmul_n: int
    dtype: str
    smi_ms: int = 100

    @staticmethod
    def for_run(cpu: bool) -> Sizes:
        if cpu:
            phases = dict.fromkeys(("idle", "step", "bursts", "spikes", "simplecnn"), 0.6)
            return Sizes(0.2, 0.5, phases, 128, "float32")
        phases = {"idle": 4.0, "step": 6.0, "bursts": 6.0, "spikes": 6.0, "simplecnn": 8.0}
        return Sizes(2.0, 3.0, phases, 8192, "bfloat16")


class RawSampler:
    """Samples `nvmlDeviceGetPowerUsage` and the instant power field every `interval_s`."""

    def __init__(self, nvml: Any, handle: Any, interval_s: float) -> None:
        self.nvml, self.handle, self.interval_s = nvml, handle, interval_s
        self.has_instant = field_power_w(nvml, handle, "NVML_FI_DEV_POWER_INSTANT") is not None
        self.t: list[float] = []
        self.usage_w: list[float] = []
        self.instant_w: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-power", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                usage = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000.0
                instant = (
                    field_power_w(self.nvml, self.handle, "NVML_FI_DEV_POWER_INSTANT")
                    if self.has_instant
                    else None
                )
            except self.nvml.NVMLError:
                continue
            self.t.append(time.time())
            self.usage_w.append(usage)
            self.instant_w.append(float("nan") if instant is None else instant)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class SmiSampler:
    """`nvidia-smi ... -lms MS` writing CSV lines to a file, read after it stops."""

    def __init__(self, cmd: list[str], gpu: str | None, every_ms: int, path: Path) -> None:
        self.fields = ["timestamp", "power.draw"]
        self.has_instant = self._supported(cmd, gpu, "power.draw.instant")
        if self.has_instant:
            self.fields.append("power.draw.instant")
        target = ["-i", gpu] if gpu else []
        query = [f"--query-gpu={','.join(self.fields)}", "--format=csv,noheader,nounits"]
        # nvidia-smi buffers its output when it is not a terminal: ask for line buffering.
        line_buffered = ["stdbuf", "-oL"] if shutil.which("stdbuf") else []
        self.path = path
        self._file = path.open("w")
        self.proc = subprocess.Popen(
            [*line_buffered, *cmd, *target, *query, "-lms", str(every_ms)],
            stdout=self._file,
            stderr=subprocess.STDOUT,
        )

    @staticmethod
    def _supported(cmd: list[str], gpu: str | None, query: str) -> bool:
        target = ["-i", gpu] if gpu else []
        try:
            out = subprocess.run(
                [*cmd, *target, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=20,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        try:
            float(out.stdout.strip().splitlines()[0])
        except (ValueError, IndexError):
            return False
        return out.returncode == 0

    def stop(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stop (SIGINT first, as Ctrl-C would, so it can flush) and parse the samples."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._file.close()
        return parse_smi(self.path.read_text(), instant=self.has_instant)


def parse_smi(output: str, *, instant: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall-clock seconds, power.draw and power.draw.instant (NaN where absent) from CSV lines
    `YYYY/MM/DD HH:MM:SS.mmm, W[, W]`; lines that are not samples are skipped."""
    ts, draw, inst = [], [], []
    for line in output.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < (3 if instant else 2):
            continue
        try:
            t = datetime.strptime(cells[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            watts = float(cells[1])
        except ValueError:
            continue
        try:
            extra = float(cells[2]) if instant else float("nan")
        except ValueError:
            extra = float("nan")
        ts.append(t)
        draw.append(watts)
        inst.append(extra)
    return np.array(ts), np.array(draw), np.array(inst)


def integrate(t: np.ndarray, p: np.ndarray, t0: float, t1: float) -> float | None:
    """Trapezoid integral of the samples (t, p) over [t0, t1], the edges linearly
    interpolated; `None` unless samples lie on both sides of the interval."""
    keep = ~np.isnan(p)
    t, p = t[keep], p[keep]
    if len(t) < 2 or t[0] > t0 or t[-1] < t1:
        return None
    inside = (t > t0) & (t < t1)
    tt = np.concatenate([[t0], t[inside], [t1]])
    pp = np.concatenate([[np.interp(t0, t, p)], p[inside], [np.interp(t1, t, p)]])
    return float(np.sum((pp[1:] + pp[:-1]) / 2 * np.diff(tt)))


def rise_s(t: np.ndarray, p: np.ndarray, start: float, end: float, base: float) -> float | None:
    """Seconds from `start` until power first reaches 90% of the way from `base` to the
    plateau (median of the window's second half); `None` when the step is under 20 W."""
    keep = ~np.isnan(p)
    t, p = t[keep], p[keep]
    late = p[(t > (start + end) / 2) & (t < end)]
    if len(late) == 0 or np.median(late) - base < 20:
        return None
    level = base + 0.9 * (float(np.median(late)) - base)
    after = np.nonzero((t >= start) & (t <= end) & (p >= level))[0]
    return float(t[after[0]] - start) if len(after) else None


def make_work(device: Any, sizes: Sizes) -> dict[str, Callable[[float], None]]:
    """Each phase's load, run until `perf_counter()` reaches the given time."""
    import torch

    dtype = getattr(torch, sizes.dtype)
    n = sizes.matmul_n
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)

    def matmuls(k: int) -> None:
        for _ in range(k):
            torch.mm(a, b)
        sync(device)

    matmuls(3)  # warm-up: kernels chosen, memory allocated
    started = time.perf_counter()
    matmuls(10)
    one_s = (time.perf_counter() - started) / 10
    chunk = max(1, round(0.003 / one_s))  # ~3 ms of work between clock checks

    def busy(until: float) -> None:
        while time.perf_counter() < until:
            matmuls(chunk)

    def pulses(on_s: float, off_s: float) -> Callable[[float], None]:
        def run(until: float) -> None:
            while time.perf_counter() < until:
                busy(min(until, time.perf_counter() + on_s))
                time.sleep(max(0.0, min(off_s, until - time.perf_counter())))

        return run

    def idle(until: float) -> None:
        time.sleep(max(0.0, until - time.perf_counter()))

    return {
        "idle": idle,
        "step": busy,
        "bursts": pulses(0.15, 0.15),
        "spikes": pulses(0.02, 0.23),
        "simplecnn": simplecnn_work(device),
    }


def simplecnn_work(device: Any) -> Callable[[float], None]:
    """Adam steps of the default SimpleCNN (conv=2, linear=3) on FashionMNIST-shaped batches."""
    import torch

    from green_ai.nets import build_net

    torch.manual_seed(0)
    model = build_net(
        "simplecnn", input_shape=(1, 28, 28), num_classes=10, conv=2, linear=3, relu=1
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(128, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (128,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    sync(device)

    def run(until: float) -> None:
        while time.perf_counter() < until:
            step()

    return run


@dataclass
class Methods:
    """Everything that measures the job: the package's meters, the own sampler, nvidia-smi."""

    meters: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # method -> why it is not measured
    raw: RawSampler | None = None
    smi: SmiSampler | None = None
    nvml: Any = None

    def close(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Stop every sampler; the sampled series (wall-clock seconds, watts) by name."""
        empty = (np.array([]), np.array([]))
        series = dict.fromkeys(("usage", "instant", "smi", "smi instant"), empty)
        if self.raw is not None:
            self.raw.stop()
            t = np.array(self.raw.t)
            series["usage"] = (t, np.array(self.raw.usage_w))
            series["instant"] = (t, np.array(self.raw.instant_w))
            self.raw = None
        if self.smi is not None:
            t, draw, instant = self.smi.stop()
            series["smi"], series["smi instant"] = (t, draw), (t, instant)
            self.smi = None
        for meter in self.meters.values():
            meter.close()
        if self.nvml is not None:
            self.nvml.nvmlShutdown()
            self.nvml = None
        return series


def open_methods(part: Part, device: Any, sizes: Sizes) -> Methods:
    methods = Methods()
    reasons = methods.reasons
    cannot = why_not("green_ai.energy")
    for label, counter, interval_s in (
        ("counter", True, 0.1),
        ("poll 100 ms", False, 0.1),
        ("poll 10 ms", False, 0.01),
    ):
        if cannot:
            reasons[label] = f"green_ai.energy does not import ({cannot})"
            continue
        try:
            methods.meters[label] = build_nvml_meter(
                device, counter=counter, interval_s=interval_s, idle_s=sizes.idle_s
            )
        except Exception as exc:
            reasons[label] = f"{type(exc).__name__}: {exc}"
    # nvidia-smi must sample the same GPU: name it by UUID (`-i`), NVML's or else torch's.
    cuda_uuid = torch_uuid(device)
    gpu_uuid = None if cuda_uuid is None else "GPU-" + cuda_uuid.removeprefix("GPU-")
    nvml = import_pynvml()
    if nvml is None:
        reasons["instant 10 ms"] = "pynvml missing"
    else:
        try:
            nvml.nvmlInit()
            methods.nvml = nvml
            handle = nvml_handle(nvml, cuda_uuid)
            gpu_uuid = text(nvml.nvmlDeviceGetUUID(handle))
            methods.raw = RawSampler(nvml, handle, 0.01)
            if not methods.raw.has_instant:
                reasons["instant 10 ms"] = "the driver has no instant power field"
        except (nvml.NVMLError, RuntimeError) as exc:
            reasons["instant 10 ms"] = f"NVML not available ({exc})"
    smi_cmd = shlex.split(os.environ.get("GPU_CHECK_NVIDIA_SMI", "nvidia-smi"))
    if not (part.cpu or shutil.which(smi_cmd[0])):
        reasons["nvidia-smi 100 ms"] = reasons["nvidia-smi instant"] = "nvidia-smi not on PATH"
    elif gpu_uuid is None:
        why = "cannot tell nvidia-smi which GPU is cuda:0 (no UUID from torch or NVML)"
        reasons["nvidia-smi 100 ms"] = reasons["nvidia-smi instant"] = why
    else:
        methods.smi = SmiSampler(smi_cmd, gpu_uuid, sizes.smi_ms, part.out / "nvidia_smi.csv")
        if not methods.smi.has_instant:
            reasons["nvidia-smi instant"] = "this nvidia-smi has no power.draw.instant"
    return methods


@dataclass
class Window:
    """One phase (or the whole job): its wall-clock edges and each meter's measurement."""

    name: str
    t0: float
    t1: float
    measured: dict[str, Any]


def run_job(
    part: Part, device: Any, sizes: Sizes, meters: dict[str, Any]
) -> tuple[float | None, list[Window], Window]:
    """The idle baseline, then the phases, each a window in every meter."""
    part.say("preparing the loads")
    work = make_work(device, sizes)
    time.sleep(sizes.settle_s)
    idle_w = None
    if "counter" in meters:
        part.say(f"meter.measure_idle() over {sizes.idle_s:g} s")
        idle_w = meters["counter"].measure_idle()
    phases: list[Window] = []
    for m in meters.values():
        m.begin("job")
    job_t0 = time.time()
    for name, seconds in sizes.phase_s.items():
        if part.left_s() < seconds + 8:
            part.say(f"phase {name}: skipped, time budget")
            part.add(f"- phase `{name}` not run: the part's time budget ran out")
            continue
        part.say(f"phase {name}: {seconds:g} s")
        for m in meters.values():
            m.begin(name)
        t0 = time.time()
        work[name](time.perf_counter() + seconds)
        sync(device)
        t1 = time.time()
        phases.append(Window(name, t0, t1, {label: m.end(name) for label, m in meters.items()}))
    job = {label: m.end("job") for label, m in meters.items()}
    return idle_w, phases, Window("whole job", job_t0, time.time(), job)


def main(part: Part) -> None:
    import torch

    device = torch.device("cpu" if part.cpu else "cuda:0")
    sizes = Sizes.for_run(part.cpu)
    methods = open_methods(part, device, sizes)
    part.data["meters"] = {label: m.describe() for label, m in methods.meters.items()}
    for label, how in part.data["meters"].items():
        part.say(f"{label}: {how}")
    try:
        idle_w, phases, job = run_job(part, device, sizes, methods.meters)
        time.sleep(0.5)  # one more nvidia-smi sample after the job, to interpolate its end
    finally:
        series = methods.close()
    part.data["measure_idle_w"] = idle_w
    report(part, sizes, methods.reasons, idle_w, phases, job, series)


def report(
    part: Part,
    sizes: Sizes,
    reasons: dict[str, str],
    idle_w: float | None,
    phases: list[Window],
    job: Window,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    sampled = {
        "nvidia-smi 100 ms": series["smi"],
        "nvidia-smi instant": series["smi instant"],
        "instant 10 ms": series["instant"],
    }

    def joules(label: str, w: Window) -> float | None:
        if label in w.measured:
            return w.measured[label].energy_j
        if label in sampled:
            return integrate(*sampled[label], w.t0, w.t1)
        return None

    table = [
        "| phase | s | " + " | ".join(METHODS) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in METHODS) + " |",
    ]
    part.data["phases"] = []
    for w in [*phases, job]:
        values = {label: joules(label, w) for label in METHODS}
        cells = [fmt(values["counter"], 4)]
        for label in METHODS[1:]:
            share = ratio(values[label], values["counter"])
            cells.append(fmt(values[label], 4) + (f" ({share:.3f})" if share is not None else ""))
        table.append(f"| {w.name} | {w.t1 - w.t0:.2f} | " + " | ".join(cells) + " |")
        part.data["phases"].append({"name": w.name, "duration_s": w.t1 - w.t0, "j": values})
    part.add(
        "All methods measured the same job at the same time; joules, and in brackets the ratio "
        "to the counter. Phases: `idle`; `step`: from idle to back-to-back "
        f"{sizes.matmul_n}² {sizes.dtype} matrix products; `bursts`: 150 ms on, 150 ms off; "
        "`spikes`: 20 ms on, 230 ms off; `simplecnn`: Adam steps of SimpleCNN (conv=2, "
        "linear=3), batch 128.",
        "",
        *table,
        "",
    )
    t_smi = series["smi"][0]
    if "nvidia-smi 100 ms" not in reasons and len(t_smi) == 0:
        head = (part.out / "nvidia_smi.csv").read_text()[:300].strip() or "nothing"
        reasons["nvidia-smi 100 ms"] = f"it wrote no sample; its output began: `{head}`"
    for label, why in reasons.items():
        part.add(f"- `{label}` not measured: {why}")
    for label, how in part.data["meters"].items():
        part.add(f"- `{label}`: {how}")
    counts = {
        name: int(np.sum((t >= job.t0) & (t <= job.t1)))
        for name, (t, _) in (("nvidia-smi", series["smi"]), ("own 10 ms sampler", series["usage"]))
    }
    part.add(
        "- samples during the job ("
        + f"{job.t1 - job.t0:.1f} s): "
        + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "",
    )

    idle = next((w for w in phases if w.name == "idle"), None)
    cells = [f"`meter.measure_idle()`: {fmt(idle_w, 4)} W"]
    if idle is not None:
        for label in METHODS:
            j = joules(label, idle)
            cells.append(f"{label}: {fmt(None if j is None else j / (idle.t1 - idle.t0), 4)} W")
    part.add("**Idle power.** " + "; ".join(cells) + ".", "")
    part.data["idle_w"] = cells

    # Is nvmlDeviceGetPowerUsage an average? Time to reach 90% of the step's plateau.
    step = next((w for w in phases if w.name == "step"), None)
    if step is not None and idle is not None:
        rises = {}
        for label, (t, p) in {
            "nvmlDeviceGetPowerUsage (10 ms)": series["usage"],
            "instant field (10 ms)": series["instant"],
            "nvidia-smi power.draw": series["smi"],
            "nvidia-smi power.draw.instant": series["smi instant"],
        }.items():
            before = p[(t >= idle.t0) & (t <= idle.t1) & ~np.isnan(p)]
            if len(before):
                rises[label] = rise_s(t, p, step.t0, step.t1, float(np.median(before)))
        part.data["rise_90_s"] = rises
        part.add(
            "**Averaging.** Seconds from the idle→load step until each reading reached 90% of "
            "its plateau (a one-second average needs about 0.9 s; an instant reading about one "
            "sample): " + "; ".join(f"{k} {fmt(v, 2)} s" for k, v in rises.items()) + ".",
            "",
        )
    spikes = next((w for w in phases if w.name == "spikes"), None)
    if spikes is not None:
        peaks = {label: m.power_peak_w for label, m in spikes.measured.items()}
        t, p = series["instant"]
        inside = (t >= spikes.t0) & (t <= spikes.t1) & ~np.isnan(p)
        if inside.any():
            peaks["instant 10 ms"] = float(np.max(p[inside]))
        part.data["spike_peak_w"] = peaks
        part.add(
            "**Peak power in the spikes phase** (what the inference study reports per batch): "
            + "; ".join(f"{k} {fmt(v, 4)} W" for k, v in peaks.items())
            + ".",
            "",
        )


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    title = "Energy: NVML counter, polling, nvidia-smi"
    run_part(main, Part("energy", title, args.out, args.budget_s, args.cpu))
