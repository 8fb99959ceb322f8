"""The RAPL backend against a fake powercap tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from green_ai.config.energy import EnergyConfig
from green_ai.energy import MEASURED, EnergyMeter, build_meter
from green_ai.errors import UserError

from .fakes import FakeClock, make_powercap, set_energy

CPU = torch.device("cpu")
RANGE = 262_143_328_850  # a typical max_energy_range_uj


def rapl_meter(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, root: Path
) -> EnergyMeter:
    return build_meter(
        energy_cfg("rapl", powercap_root=str(root)),
        CPU,
        clock=clock,
        sleep=clock.sleep,
        threaded=False,
    )


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    return make_powercap(
        tmp_path / "powercap",
        {
            "intel-rapl:0": ("package-0", 1_000_000, RANGE),
            "intel-rapl:0:0": ("core", 500_000, RANGE),  # part of package-0: not summed
            "intel-rapl:0:1": ("dram", 2_000_000, RANGE),
            "intel-rapl:1": ("package-1", 0, RANGE),
        },
    )


def test_package_and_dram_zones_summed(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, powercap: Path
) -> None:
    meter = rapl_meter(energy_cfg, clock, powercap)
    assert (meter.backend, meter.kind) == ("rapl", MEASURED)
    assert meter.device_names == ["package-0", "package-1", "package-0/dram"]
    meter.begin("epoch")
    set_energy(powercap, "intel-rapl:0", 1_000_000 + 150_000_000)  # +150 J
    set_energy(powercap, "intel-rapl:0:0", 500_000 + 90_000_000)  # inside the 150 J
    set_energy(powercap, "intel-rapl:0:1", 2_000_000 + 20_000_000)  # +20 J
    set_energy(powercap, "intel-rapl:1", 30_000_000)  # +30 J
    clock.sleep(2.0)
    m = meter.end("epoch")
    assert m.energy_j == pytest.approx(200.0)
    assert m.per_device_j == {
        "package-0": pytest.approx(150.0),
        "package-1": pytest.approx(30.0),
        "package-0/dram": pytest.approx(20.0),
    }
    assert m.power_mean_w == pytest.approx(100.0)


def test_counter_wrap_is_unwrapped(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, tmp_path: Path
) -> None:
    root = make_powercap(
        tmp_path / "pc", {"intel-rapl:0": ("package-0", 990_000_000, 1_000_000_000)}
    )
    meter = rapl_meter(energy_cfg, clock, root)
    meter.begin("w")
    set_energy(root, "intel-rapl:0", 995_000_000)
    meter.poll()
    set_energy(root, "intel-rapl:0", 5_000_000)  # wrapped at 1000 J
    meter.poll()
    set_energy(root, "intel-rapl:0", 980_000_000)  # nearly a full range later, no wrap yet
    meter.poll()
    set_energy(root, "intel-rapl:0", 3_000_000)  # wrapped again
    clock.sleep(10.0)
    m = meter.end("w")
    # 10 J to the first wrap, a full 1000 J range, then 3 J.
    assert m.energy_j == pytest.approx(10.0 + 1000.0 + 3.0)


def test_unreadable_counters_are_a_clear_user_error(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, powercap: Path
) -> None:
    (powercap / "intel-rapl:0" / "energy_uj").unlink()  # as if root-only (unreadable)
    (powercap / "intel-rapl:0" / "energy_uj").mkdir()
    with pytest.raises(UserError) as err:
        rapl_meter(energy_cfg, clock, powercap)
    message = str(err.value)
    assert "not readable" in message and "chmod" in message and "energy=estimate" in message


def test_missing_powercap_is_a_user_error(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="no RAPL"):
        rapl_meter(energy_cfg, clock, tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no intel-rapl zones"):
        rapl_meter(energy_cfg, clock, tmp_path / "empty")


def test_psys_only_machine_uses_psys(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, tmp_path: Path
) -> None:
    root = make_powercap(tmp_path / "pc", {"intel-rapl:0": ("psys", 0, RANGE)})
    meter = rapl_meter(energy_cfg, clock, root)
    meter.begin("w")
    set_energy(root, "intel-rapl:0", 7_000_000)
    clock.sleep(1.0)
    assert meter.end("w").per_device_j == {"psys": pytest.approx(7.0)}


def test_file_vanishing_mid_window_marks_it_unavailable(
    energy_cfg: Callable[..., EnergyConfig], clock: FakeClock, powercap: Path
) -> None:
    meter = rapl_meter(energy_cfg, clock, powercap)
    meter.begin("w")
    (powercap / "intel-rapl:1" / "energy_uj").unlink()
    clock.sleep(1.0)
    m = meter.end("w")
    assert m.kind == "unavailable" and m.energy_j is None
    assert m.reason is not None and "RAPL read failed" in m.reason
