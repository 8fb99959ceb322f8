"""`python -m green_ai.measure [overrides] -- <command ...>`: the energy of any command.

    python -m green_ai.measure -- python train.py --epochs 3
    python -m green_ai.measure energy.backends=[nvml,rapl] energy.region=NL -- ./bench.sh

The configured meters measure the machine (every visible GPU, RAPL's packages and DRAM, or the
CPU-time estimate of the command and its children): the idle baseline first (`energy.idle_s`),
then the command inside one window. Joules, mean/peak power, duration and gCO2eq go to stderr
(stdout is the command's), one MLflow run is logged (tag `green_ai.kind=measure`), and the exit
code is the command's (128 + N when a signal N ended it; 127/126 when it cannot be started).
Ctrl-C reaches the command too; we wait for it to stop, escalate after a grace period or at a
second Ctrl-C, and still record what was measured (run status KILLED).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

import hydra
from omegaconf import DictConfig

from green_ai.config.energy import EnergyConfig
from green_ai.config.hydra_app import run_app
from green_ai.config.store import register_configs, to_settings
from green_ai.config.tracking import MeasureConfig
from green_ai.errors import UserError

if TYPE_CHECKING:  # green_ai.energy imports torch: only when measuring
    from green_ai.energy import Measurement

KIND_MEASURE = "measure"
GRACE_S = 5.0  # how long a stopping command gets before the next, harder signal


class CommandError(UserError):
    """The command could not be started; `exit_code` follows the shells (127, 126)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class MeasureResult:
    """What `measure` measured. `exit_code` is the command's, shell-style."""

    command: list[str]
    exit_code: int
    interrupted: bool
    measurement: Measurement
    idle_power_w: float | None
    grid_intensity_g_per_kwh: float
    grid_intensity_source: str
    co2_g: float | None
    run_id: str | None


def measure(
    command: Sequence[str],
    energy: EnergyConfig,
    *,
    tracking: Any = None,
    grace_s: float = GRACE_S,
    out: TextIO | None = None,
) -> MeasureResult:
    """Run `command`, measured by the meters `energy` asks for; print a summary to `out`
    (stderr by default) and, given `tracking` settings, log one MLflow run."""
    from green_ai.energy import build_meter, co2_g, grid_intensity

    command = list(command)
    out = out if out is not None else sys.stderr
    _check_runnable(command)
    intensity, source = grid_intensity(energy.region, energy.grid_intensity_g_per_kwh)
    with build_meter(energy, None, cpu_time=_cpu_time_with_children) as meter:
        idle_w = meter.measure_idle()
        started_ms = int(time.time() * 1000)
        with meter.window("command") as window:
            exit_code, interrupted = _run(command, grace_s, out)
        ended_ms = int(time.time() * 1000)
    m = window.measurement
    assert m is not None
    result = MeasureResult(
        command=command,
        exit_code=exit_code,
        interrupted=interrupted,
        measurement=m,
        idle_power_w=idle_w,
        grid_intensity_g_per_kwh=intensity,
        grid_intensity_source=source,
        co2_g=None if m.energy_j is None else co2_g(m.energy_j, intensity),
        run_id=None,
    )
    print(_summary(result), file=out)
    if tracking is None:
        return result
    run_id = _log_run(tracking, result, started_ms, ended_ms, meter.device_names)
    print(f"  MLflow run {run_id}", file=out)
    return replace(result, run_id=run_id)


# -- running the command --------------------------------------------------------------------


def _check_runnable(command: list[str]) -> None:
    if not command:
        raise UserError(
            "no command to measure: put it after --, e.g. python -m green_ai.measure -- "
            "python train.py"
        )
    if shutil.which(command[0]) is None:
        if os.sep in command[0] and Path(command[0]).exists():
            raise CommandError(f"{command[0]} is not executable (chmod +x it)", 126)
        raise CommandError(f"command not found: {command[0]}", 127)


def _cpu_time_with_children() -> float:
    # The estimate backend prices CPU time: the command's (children's, counted once it has
    # been waited for) and ours.
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class _Signals:
    """SIGINT and SIGTERM, recorded instead of raised while the command runs.

    A raised KeyboardInterrupt can land between `waitpid` reaping the command and Popen
    storing its status: the status is lost and Popen, finding no child, reports 0. Under load
    this turned a Ctrl-C'd command's 130 into 0. Recorded signals leave Popen's bookkeeping
    whole; the waits below poll them instead."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():  # elsewhere none arrive
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)


# How often a wait looks for a recorded signal.
_POLL_S = 0.05


def _wait(
    proc: subprocess.Popen[bytes], signals: _Signals, timeout_s: float | None, seen: int
) -> int | None:
    """The command's return code once it ends; None after `timeout_s` or at a signal beyond
    the first `seen`."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while len(signals.received) <= seen:
        step = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
        if step <= 0:
            return None
        try:
            return proc.wait(timeout=step)
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()


def _run(command: list[str], grace_s: float, out: TextIO) -> tuple[int, bool]:
    """Run to the end; on SIGINT/SIGTERM stop it. The exit code and whether we stopped it."""
    with _Signals() as signals:
        proc = subprocess.Popen(command)
        code = _wait(proc, signals, None, 0)
        if code is not None:  # it ended (on its own, or at a Ctrl-C that reached it too)
            return _code(code), bool(signals.received)
        if signals.received[0] == signal.SIGINT:
            # A terminal's Ctrl-C reached the command as well: give it time to stop on its own,
            # then pass the signal on (it may have been sent to us alone), then harder ones.
            steps: list[int | None] = [None, signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
        else:
            steps = [signal.SIGTERM, signal.SIGKILL]
        print(
            f"measure: interrupted; stopping the command (up to {grace_s:g} s per step, "
            "Ctrl-C again to hurry)",
            file=out,
        )
        return _code(_stop(proc, steps, grace_s, signals)), True


def _stop(
    proc: subprocess.Popen[bytes], steps: list[int | None], grace_s: float, signals: _Signals
) -> int:
    """Each step's signal (None: none), then up to `grace_s` for the command to end; a
    further Ctrl-C or SIGTERM moves on to the next step at once."""
    for sig in steps:
        if sig is not None and proc.poll() is None:
            proc.send_signal(sig)
        timeout = None if sig == signal.SIGKILL else grace_s
        code = _wait(proc, signals, timeout, len(signals.received))
        if code is not None:
            return code
    return proc.wait()


def _code(returncode: int) -> int:
    """Popen's -N (ended by signal N) as a shell reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


# -- reporting ------------------------------------------------------------------------------


def _summary(r: MeasureResult) -> str:
    m = r.measurement
    how = "interrupted, " if r.interrupted else ""
    lines = [f"measure: {_short(r.command)}: {how}exit {r.exit_code} after {m.duration_s:.2f} s"]
    if m.energy_j is None:
        lines.append(f"  energy  not measured ({m.kind}: {m.reason})")
    else:
        parts = " · ".join(f"{p} {j:.1f} J" for p, j in m.parts_j.items())
        lines.append(f"  energy  {m.energy_j:.1f} J {m.kind} ({parts})")
        if m.reason:
            lines.append(f"          {m.reason}")
    if m.energy_net_j is not None:
        lines.append(f"  net     {m.energy_net_j:.1f} J (idle {r.idle_power_w:.1f} W subtracted)")
    power = [(label, w) for label, w in (("mean", m.power_mean_w), ("peak", m.power_peak_w))]
    shown = " · ".join(f"{label} {w:.1f} W" for label, w in power if w is not None)
    if shown:
        lines.append(f"  power   {shown}")
    if r.co2_g is not None:
        lines.append(
            f"  carbon  {r.co2_g:.4g} gCO2eq at {r.grid_intensity_g_per_kwh:g} g/kWh "
            f"({r.grid_intensity_source})"
        )
    return "\n".join(lines)


def _short(command: list[str], limit: int = 60) -> str:
    text = shlex.join([Path(command[0]).name, *command[1:]])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _log_run(
    tracking: Any, r: MeasureResult, started_ms: int, ended_ms: int, devices: list[str]
) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from green_ai.energy import measurement_metrics, measurement_tags
    from green_ai.tracking import hydra_overrides, setup_tracking

    m = r.measurement
    experiment_id = setup_tracking(tracking)
    client = MlflowClient()
    tags = {
        "green_ai.kind": KIND_MEASURE,
        "command": shlex.join(r.command)[:5000],
        "energy.backend": m.backend,
        "energy.devices": ", ".join(devices),
        "hydra_overrides": hydra_overrides(),
        **measurement_tags(m),
    }
    if r.interrupted:
        tags["interrupted"] = "true"
    run = client.create_run(
        experiment_id, start_time=started_ms, tags=tags, run_name=_short(r.command, 40)
    )
    run_id = run.info.run_id
    metrics = {**measurement_metrics(m), "exit_code": float(r.exit_code)}
    if r.idle_power_w is not None:
        metrics["idle_power_w"] = r.idle_power_w
    if r.co2_g is not None:
        metrics["co2_g"] = r.co2_g
    params = {
        "command": shlex.join(r.command)[:6000],
        "grid_intensity_g_per_kwh": str(r.grid_intensity_g_per_kwh),
        "grid_intensity_source": r.grid_intensity_source,
    }
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), ended_ms, 0) for k, v in metrics.items()],
        params=[Param(k, v) for k, v in params.items()],
    )
    status = "KILLED" if r.interrupted else "FINISHED" if r.exit_code == 0 else "FAILED"
    client.set_terminated(run_id, status=status, end_time=ended_ms)
    return str(run_id)


# -- command line ---------------------------------------------------------------------------


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """`[prog, overrides..., "--", command...]` -> (`[prog, overrides...]`, `command`).

    Hydra's parser would take the command's words for overrides, so they leave `sys.argv`
    before Hydra reads it."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def main() -> None:
    register_configs()
    sys.argv, command = split_argv(sys.argv)
    codes: list[int] = []

    @hydra.main(config_path="../conf", config_name="measure", version_base="1.3")
    def app(cfg: DictConfig) -> None:
        try:
            settings = to_settings(cfg, MeasureConfig)
            result = measure(command, settings.energy, tracking=settings.tracking)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            codes.append(getattr(err, "exit_code", 2))
            return
        except KeyboardInterrupt:  # before the command started (idle baseline): nothing to log
            print("measure: interrupted before the command started", file=sys.stderr)
            codes.append(128 + signal.SIGINT)
            return
        codes.append(result.exit_code)

    run_app(app)  # a wrong override: one line, exit 2
    sys.exit(next((code for code in codes if code), 0))


if __name__ == "__main__":
    main()
