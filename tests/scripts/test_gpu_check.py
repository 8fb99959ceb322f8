"""scripts/gpu_check.sh: the one-line exit without a GPU, the private installs, the dry run of
every part on the CPU (fake NVML and nvidia-smi), and the arithmetic of the energy part."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
HERE = ROOT / "scripts" / "gpu_check"


def load(relative: str) -> ModuleType:
    """A module of scripts/gpu_check under a name of its own (`energy` is also a test package)."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))  # for their `from _common import ...`
    name = "gpu_check_" + relative.replace("/", "_").removesuffix(".py")
    spec = importlib.util.spec_from_file_location(name, HERE / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


energy = load("energy.py")
common = load("_common.py")
missing = load("missing.py")


def run_check(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


# -- Without a GPU ---------------------------------------------------------------------------


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(tmp_path: Path) -> None:
    result = run_check(env={"CUDA_VISIBLE_DEVICES": "", "OUT": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stderr == ""
    assert "no CUDA GPU visible" in result.stdout
    assert list(tmp_path.iterdir()) == []  # no summary pretending to be one


def test_a_python_without_torch_is_one_line_too(tmp_path: Path) -> None:
    bare = tmp_path / "python"  # isolated mode, no site-packages: torch cannot import
    bare.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
    bare.chmod(0o755)
    result = run_check(env={"PYTHON": str(bare)}, timeout=60)
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    assert "cannot import torch" in result.stdout


def test_unknown_arguments_are_refused() -> None:
    result = run_check("--fast", env={}, timeout=30)
    assert result.returncode == 2
    assert "unknown argument --fast" in result.stderr


def test_with_no_time_left_every_part_is_skipped_with_a_line(tmp_path: Path) -> None:
    # GPU_CHECK_CPU=1 is the dry run; 20 s in all leaves no part the 15 s it needs.
    env = {"GPU_CHECK_CPU": "1", "GPU_CHECK_TOTAL_S": "20", "OUT": str(tmp_path)}
    result = run_check(env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "gpu_check.md").read_text()
    assert "DRY RUN" in summary
    timing = summary.split("## Time per part")[1]
    assert timing.count("skipped: no time left") == 7
    assert summary.count("Not run: the check ran out of time") == 7


# -- Packages the GPU machine may lack -------------------------------------------------------


def fake_environment(
    monkeypatch: pytest.MonkeyPatch, absent: set[str], versions: dict[str, str]
) -> None:
    """Modules in `absent` cannot be found; distributions have the given versions."""
    real_find = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in absent else real_find(name)

    def version(dist: str) -> str:
        if dist in versions:
            return versions[dist]
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(missing.importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(missing.importlib.metadata, "version", version)


FITTING = {"omegaconf": "2.3.1", "antlr4-python3-runtime": "4.9.3", "hydra-core": "1.3.8"}


def test_nothing_is_missing_where_everything_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_environment(monkeypatch, set(), FITTING)
    assert missing.missing() == []


def test_a_missing_package_brings_its_whole_group(monkeypatch: pytest.MonkeyPatch) -> None:
    # antlr4 is present, but omegaconf needs its own 4.9 beside it, not the machine's.
    fake_environment(monkeypatch, {"omegaconf", "pytest"}, FITTING)
    wanted = missing.missing()
    assert wanted[:2] == ["omegaconf", "antlr4-python3-runtime"]
    assert {"pytest", "pluggy", "iniconfig", "Pygments", "packaging"} <= set(wanted)
    assert "hydra-core" not in wanted and "PyYAML" not in wanted
    assert len(wanted) == len(set(wanted))


def test_a_present_package_of_the_wrong_version_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The case found on a real machine: antlr4 4.11 makes omegaconf 2.3 fail at import.
    fake_environment(monkeypatch, set(), {**FITTING, "antlr4-python3-runtime": "4.11.1"})
    assert missing.missing() == ["antlr4-python3-runtime"]


def make_wheel(
    folder: Path, dist: str, version: str, module: str, tag: str = "py3-none-any"
) -> None:
    """A minimal wheel (pure Python unless `tag` says otherwise) whose module sets
    MARK = dist."""
    name = dist.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{name}-{version}-{tag}.whl", "w") as whl:
        whl.writestr(f"{module}/__init__.py", f"MARK = {dist!r}\n")
        whl.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
        )
        whl.writestr(
            f"{info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
        )
        whl.writestr(f"{info}/RECORD", f"{module}/__init__.py,,\n{info}/METADATA,,\n")


@pytest.mark.slow
def test_missing_packages_go_to_a_private_folder_from_the_wheels(tmp_path: Path) -> None:
    venv = tmp_path / "venv"  # a python that lacks everything the check could install
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    wheels, private = tmp_path / "wheels", tmp_path / "private"
    wheels.mkdir()
    make_wheel(wheels, "iniconfig", "2.0.0", "iniconfig")
    make_wheel(wheels, "pluggy", "1.6.0", "pluggy")
    result = subprocess.run(
        ["bash", str(HERE / "install_missing.sh"), python, str(wheels), str(private)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "pluggy iniconfig"  # missing.py's order
    assert "no wheel of omegaconf" in result.stderr  # the others are said, not fatal
    probe = "import iniconfig, pluggy; print(iniconfig.MARK, pluggy.MARK)"
    seen = subprocess.run(
        [python, "-c", probe], env={**os.environ, "PYTHONPATH": str(private)}, capture_output=True
    )
    assert seen.stdout.decode().split() == ["iniconfig", "pluggy"]
    untouched = subprocess.run([python, "-c", "import iniconfig"], capture_output=True)
    assert untouched.returncode != 0  # the python itself got nothing


@pytest.mark.slow
def test_fetch_wheels_fills_its_folder_from_a_registry(tmp_path: Path) -> None:
    """fetch_wheels.sh against a local registry of stand-in packages (no network): a copy of
    the script runs beside its own wheels/ folder, so the repository's is left alone."""
    links, sdist = tmp_path / "links", tmp_path / "sdist" / "antlr4-python3-runtime-4.9.3"
    links.mkdir()
    pure = ["hydra-core", "omegaconf", "pytest", "pluggy", "iniconfig", "packaging"]
    pure += ["pygments", "exceptiongroup", "tomli"]
    # Versions inside the script's bounds (hydra-core 1.x, omegaconf 2.3).
    version = {dist: "2.3.1" if dist == "omegaconf" else "1.3.2" for dist in pure}
    for dist in pure:
        make_wheel(links, dist, version[dist], dist.replace("-", "_"))
    platforms = [
        f"cp{v}-cp{v}-manylinux2014_{arch}"
        for v in (310, 311, 312, 313)
        for arch in ("x86_64", "aarch64")
    ]
    for tag in platforms:
        make_wheel(links, "PyYAML", "6.0.2", "yaml", tag)
    # antlr4 4.9 exists only as a source archive: the script builds its wheel.
    sdist.mkdir(parents=True)
    (sdist / "setup.py").write_text(
        "from setuptools import setup\n"
        "setup(name='antlr4-python3-runtime', version='4.9.3', py_modules=[])\n"
    )
    (sdist / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: antlr4-python3-runtime\nVersion: 4.9.3\n"
    )
    subprocess.run(
        ["tar", "-czf", str(links / f"{sdist.name}.tar.gz"), "-C", str(sdist.parent), sdist.name],
        check=True,
    )
    script = tmp_path / "gpu_check" / "fetch_wheels.sh"
    script.parent.mkdir()
    script.write_bytes((HERE / "fetch_wheels.sh").read_bytes())
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(links),
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's spelling of --no-build-isolation: no download
    }
    result = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    got = sorted(p.name for p in (script.parent / "wheels").iterdir())
    expected = [f"{d.replace('-', '_')}-{version[d]}-py3-none-any.whl" for d in pure]
    expected += [f"PyYAML-6.0.2-{tag}.whl" for tag in platforms]
    expected.append("antlr4_python3_runtime-4.9.3-py3-none-any.whl")
    assert got == sorted(expected)
    assert result.stdout.split() == got  # it ends by listing the folder


# -- The energy part's arithmetic ------------------------------------------------------------


def test_nvidia_smi_lines_are_parsed_and_the_rest_skipped() -> None:
    output = "\n".join(
        [
            "2026/01/02 03:04:05.250, 101.5, 99.0",
            "2026/01/02 03:04:05.350, 120.25, [N/A]",
            "Failed to query: GPU is lost",
            "2026/01/02 03:04:05.450, [N/A], 130.0",
            "",
        ]
    )
    t, draw, instant = energy.parse_smi(output, instant=True)
    assert list(draw) == [101.5, 120.25]
    assert instant[0] == 99.0 and np.isnan(instant[1])
    assert t[1] - t[0] == pytest.approx(0.1, abs=1e-6)


def test_integration_interpolates_the_window_edges() -> None:
    t = np.arange(0.0, 11.0)
    assert energy.integrate(t, np.full(11, 100.0), 2.5, 7.5) == pytest.approx(500.0)
    # Power rising linearly: the trapezoid rule is exact, edges included.
    assert energy.integrate(t, t.copy(), 2.5, 7.5) == pytest.approx((7.5**2 - 2.5**2) / 2)
    with_gap = np.full(11, 100.0)
    with_gap[5] = np.nan  # a missing reading is skipped, not read as 0 W
    assert energy.integrate(t, with_gap, 0.0, 10.0) == pytest.approx(1000.0)
    assert energy.integrate(t, t, 2.0, 12.0) is None  # no samples after the end


def test_rise_time_tells_a_one_second_average_from_an_instant_reading() -> None:
    t = np.arange(0.0, 7.0, 0.01)
    instant = np.where(t >= 1.0, 600.0, 100.0)
    # What a reading averaged over the last second shows.
    average = np.array([instant[(t > u - 1.0) & (t <= u)].mean() for u in t])
    assert energy.rise_s(t, instant, 1.0, 7.0, 100.0) == pytest.approx(0.0, abs=0.011)
    assert energy.rise_s(t, average, 1.0, 7.0, 100.0) == pytest.approx(0.9, abs=0.02)
    assert energy.rise_s(t, np.where(t >= 1, 110.0, 100.0), 1.0, 7.0, 100.0) is None


def test_the_instant_power_field_is_read_or_said_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = load("fake/pynvml.py")
    watts = common.field_power_w(fake, 0, "NVML_FI_DEV_POWER_INSTANT")
    assert watts is not None and 20.0 <= watts <= 100.0  # the fake's trace: 60 ± 40 W
    monkeypatch.setattr(fake, "NVML_FI_DEV_POWER_INSTANT", 999)  # a field the driver lacks
    assert common.field_power_w(fake, 0, "NVML_FI_DEV_POWER_INSTANT") is None
    assert common.field_power_w(fake, 0, "NVML_FI_NOT_IN_THIS_PYNVML") is None


# -- The whole check, on the CPU -------------------------------------------------------------


def cell_numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]\d+)?", line)]


@pytest.mark.slow
def test_the_dry_run_runs_every_part_and_writes_the_summary(tmp_path: Path) -> None:
    result = run_check("--dry-run", env={"OUT": str(tmp_path)}, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (tmp_path / "gpu_check.md").read_text()
    assert "DRY RUN" in summary
    for title in (
        "## Machine",
        "## Energy: NVML counter, polling, nvidia-smi",
        "## Training throughput: SimpleCNN",
        "## Inference latency",
        "## Architecture design, randomized run order",
        "## needs_cuda tests",
        "## Energy meter overhead",
        "## Time per part",
    ):
        assert title in summary
    timing = summary.split("## Time per part")[1]
    assert timing.count("| ok |") == 7, timing
    # Energy: every method has a figure for the whole job; the fake counter is the exact
    # integral of the fake instant power, so those two must agree.
    job = next(line for line in summary.splitlines() if line.startswith("| whole job |"))
    cells = [c.strip() for c in job.strip("|").split("|")]
    assert len(cells) == 2 + len(energy.METHODS) and "n/a" not in cells
    instant = re.search(r"\((\d\.\d+)\)", cells[2 + energy.METHODS.index("instant 10 ms")])
    assert instant is not None and float(instant.group(1)) == pytest.approx(1.0, abs=0.02)
    assert "meter.measure_idle()`: n/a" not in summary
    # Training: all three loops measured; inference: five models × two batch sizes.
    for loop in ("framework", "bare", "tutorial"):
        row = next(line for line in summary.splitlines() if line.startswith(f"| {loop} |"))
        assert "not run" not in row and cell_numbers(row)[0] > 0
    models = ("alexnet", "densenet121", "shufflenet_v2_x1_0", "vit_b_16", "convnext_tiny")
    starts = tuple(f"| {m} |" for m in models)
    rows = [line for line in summary.splitlines() if line.startswith(starts)]
    assert len(rows) == 10 and not any("not run" in row for row in rows)
    # The design: its cells' rounds alternate; η² with an interval for both factors, the
    # (fake) GPU's temperature rising, its busy %.
    design = summary.split("## Architecture design")[1].split("\n## ")[0]
    order = re.search(r"\): ([1-4 ]+)\.", design)
    assert order is not None and sorted(order.group(1).split()) == sorted("11223344")
    for factor in ("conv", "relu"):
        row = next(line for line in design.splitlines() if line.startswith(f"| {factor} |"))
        eta2, low, high = (float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", row)[:3])
        assert low <= eta2 <= high
    temps = re.search(r"GPU temperature: (\d+) °C before the sweep, (\d+) °C after", design)
    assert temps is not None and int(temps.group(2)) > int(temps.group(1))
    assert re.search(r"GPU busy \(NVML utilisation, mean over the rounds\): 50 %", design)
    # The needs_cuda tests, each skipped without a GPU.
    assert re.search(r"\b\d+ skipped", summary) and "failed" not in summary.split("needs_cuda")[1]
    for part in ("env", "energy", "training", "inference"):
        assert (tmp_path / "gpu_check" / f"{part}.json").is_file()
    assert (tmp_path / "gpu_check" / "nvidia_smi.csv").stat().st_size > 0


def run_part_without_omegaconf(part: str, tmp_path: Path) -> str:
    """Run one part in dry-run mode where `import omegaconf` fails, as on a GPU machine that
    lacks it; return its section."""
    block = tmp_path / "block" / "omegaconf"
    block.mkdir(parents=True)
    (block / "__init__.py").write_text("raise ImportError('no omegaconf here')\n")
    path = os.pathsep.join([str(block.parent), str(HERE / "fake"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, str(HERE / f"{part}.py"), "--out", str(tmp_path), "--budget-s", "300"]
        + ["--cpu"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return (tmp_path / f"{part}.md").read_text()


@pytest.mark.slow
def test_without_omegaconf_training_still_measures_every_loop(tmp_path: Path) -> None:
    # The training loop, the networks and the data need neither Hydra nor OmegaConf.
    section = run_part_without_omegaconf("training", tmp_path)
    for loop in ("framework", "bare", "tutorial"):
        row = next(line for line in section.splitlines() if line.startswith(f"| {loop} |"))
        assert cell_numbers(row)[0] > 0


@pytest.mark.slow
def test_without_omegaconf_inference_times_the_models_with_its_own_code(tmp_path: Path) -> None:
    section = run_part_without_omegaconf("inference", tmp_path)
    assert "built by torchvision.models.get_model (green_ai.inference does not import)" in section
    assert "synced passes by own code (ImportError: no omegaconf here)" in section
    assert sum(line.startswith("| vit_b_16 |") for line in section.splitlines()) == 2
