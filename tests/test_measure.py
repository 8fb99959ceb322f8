"""`python -m green_ai.measure -- <command>`: real short commands, a fake RAPL tree, MLflow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from omegaconf import DictConfig, OmegaConf

from green_ai.config.energy import EnergyConfig
from green_ai.errors import UserError
from green_ai.measure import CommandError, measure, split_argv

PY = sys.executable
RANGE = 10**12


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One MLflow store for the module: creating one costs seconds; each test has its experiment.
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture
def tracking(store: str, request: pytest.FixtureRequest) -> DictConfig:
    return OmegaConf.create({"uri": store, "experiment": request.node.name})


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """A fake powercap tree with one package zone at 1 J (tests/energy/fakes.py has more)."""
    zone = tmp_path / "pc" / "intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "name").write_text("package-0\n")
    (zone / "max_energy_range_uj").write_text(f"{RANGE}\n")
    (zone / "energy_uj").write_text("1000000\n")
    return tmp_path / "pc"


@pytest.fixture(autouse=True)
def _restore_sigterm() -> Iterator[None]:
    before = signal.getsignal(signal.SIGTERM)
    yield
    assert signal.getsignal(signal.SIGTERM) == before


def only_run(tracking: DictConfig) -> Run:
    client = MlflowClient(tracking_uri=tracking.uri)
    (experiment,) = [e for e in client.search_experiments() if e.name == tracking.experiment]
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def cli(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PY, "-m", "green_ai.measure", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def test_split_argv_takes_the_command_after_the_first_double_dash() -> None:
    argv = ["measure", "energy=rapl", "--", "python", "-c", "x", "--", "y"]
    assert split_argv(argv) == (["measure", "energy=rapl"], ["python", "-c", "x", "--", "y"])
    assert split_argv(["measure", "--help"]) == (["measure", "--help"], [])


@pytest.mark.slow
def test_cli_passes_the_exit_code_and_logs_the_rapl_joules(
    tmp_path: Path, powercap: Path, tracking: DictConfig
) -> None:
    # The command itself moves the fake package counter by 5 J: exactly what must be measured.
    counter = powercap / "intel-rapl:0" / "energy_uj"
    script = "import sys; open(sys.argv[1], 'w').write('6000000'); print('out'); sys.exit(3)"
    proc = cli(
        "energy=rapl",
        f"energy.powercap_root={powercap}",
        "energy.idle_s=0",
        "energy.region=NL",
        f"tracking.uri={tracking.uri}",
        f"tracking.experiment={tracking.experiment}",
        "--",
        PY,
        "-c",
        script,
        str(counter),
        cwd=tmp_path,
    )
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3, stderr
    assert stdout == "out\n"  # our report goes to stderr: stdout stays the command's
    assert "exit 3" in stderr and "5.0 J measured" in stderr and "gCO2eq" in stderr
    run = only_run(tracking)
    assert run.data.tags["green_ai.kind"] == "measure"
    assert run.data.tags["energy.kind"] == "measured"
    assert run.info.status == "FAILED"
    metrics = run.data.metrics
    assert metrics["energy_j"] == pytest.approx(5.0)
    assert metrics["energy_cpu_j"] == pytest.approx(5.0)
    assert metrics["exit_code"] == 3
    assert metrics["co2_g"] == pytest.approx(5.0 / 3.6e6 * 252.7)
    assert run.data.params["grid_intensity_g_per_kwh"] == "252.7"
    assert run.data.params["grid_intensity_source"].startswith("Ember")
    assert run.data.params["command"].endswith(str(counter))
    assert not (tmp_path / "outputs").exists()  # nothing but the MLflow store


@pytest.mark.slow
def test_estimate_prices_the_commands_cpu_time(tracking: DictConfig) -> None:
    burn = "import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    result = measure(
        [PY, "-c", burn],
        EnergyConfig(backend="estimate", idle_s=0, watts_per_core=10.0),
        tracking=tracking,
    )
    m = result.measurement
    assert result.exit_code == 0 and not result.interrupted
    assert m.kind == "estimated"
    # At least the child's 0.3 s of CPU at 10 W (the CPU time of a waited-for child counts).
    assert m.energy_j is not None and m.energy_j >= 10.0 * 0.3
    run = only_run(tracking)
    assert run.info.run_id == result.run_id and run.info.status == "FINISHED"
    assert run.data.metrics["energy_j"] == pytest.approx(m.energy_j)
    assert run.data.params["grid_intensity_source"] == "energy.grid_intensity_g_per_kwh"


@pytest.mark.slow
def test_sigint_sent_to_us_alone_is_passed_on_after_the_grace_period(
    tmp_path: Path, tracking: DictConfig
) -> None:
    started = tmp_path / "started"
    child = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(120)"

    def interrupt() -> None:
        while not started.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # not to the child: we must pass it on

    threading.Thread(target=interrupt, daemon=True).start()
    result = measure(
        [PY, "-c", child], EnergyConfig(backend="none"), tracking=tracking, grace_s=0.2
    )
    assert result.interrupted
    assert result.exit_code == 128 + signal.SIGINT  # Python dies of the SIGINT we passed on
    run = only_run(tracking)
    assert run.info.status == "KILLED" and run.data.tags["interrupted"] == "true"
    assert run.data.metrics["duration_s"] > 0


def test_a_ctrl_c_just_after_the_command_ended_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race a loaded machine ran into: the signal lands right after `waitpid` reaped the
    command, before Popen stored its status (a KeyboardInterrupt there lost it, and Popen,
    finding no child, said 0). Forced here by a waitpid that signals us once it has reaped."""
    real_waitpid = os.waitpid

    def reap_then_interrupt(pid: int, options: int) -> tuple[int, int]:
        reaped = real_waitpid(pid, options)
        if reaped[0] != 0:
            os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler before returning
        return reaped

    monkeypatch.setattr(os, "waitpid", reap_then_interrupt)
    for _ in range(5):  # every time, not by luck
        result = measure([PY, "-c", "raise SystemExit(3)"], EnergyConfig(backend="none"))
        assert result.exit_code == 3
        assert result.interrupted  # a Ctrl-C came: the run is recorded as interrupted


@pytest.mark.slow
def test_ctrl_c_stops_the_command_and_still_records_it(
    tmp_path: Path, tracking: DictConfig, powercap: Path
) -> None:
    child = "import time; print('ready', flush=True); time.sleep(120)"
    proc = cli(
        "energy=rapl",
        f"energy.powercap_root={powercap}",
        "energy.idle_s=0",
        f"tracking.uri={tracking.uri}",
        f"tracking.experiment={tracking.experiment}",
        "--",
        PY,
        "-c",
        child,
        cwd=tmp_path,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole group gets it
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGINT, stderr
    assert "interrupted" in stderr
    run = only_run(tracking)
    assert run.info.status == "KILLED"
    assert run.data.metrics["energy_j"] == pytest.approx(0.0)  # the fake counter stood still
    assert run.data.metrics["duration_s"] > 0


def test_a_command_that_cannot_start_is_an_error_like_the_shells(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="command not found: no-such-command-xyz") as err:
        measure(["no-such-command-xyz"], EnergyConfig(backend="none"))
    assert err.value.exit_code == 127
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    with pytest.raises(CommandError, match="not executable") as err:
        measure([str(script)], EnergyConfig(backend="none"))
    assert err.value.exit_code == 126
    with pytest.raises(UserError, match="put it after --"):
        measure([], EnergyConfig(backend="none"))


def test_without_tracking_nothing_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    result = measure([PY, "-c", "pass"], EnergyConfig(backend="none"))
    assert result.run_id is None and result.exit_code == 0
    err = capsys.readouterr().err
    assert "exit 0" in err and "not measured (none" in err
