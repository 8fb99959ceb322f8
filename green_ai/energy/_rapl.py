"""CPU package (and DRAM) energy through Linux powercap RAPL.

Each zone `intel-rapl:<n>` (and its subzones `intel-rapl:<n>:<m>`) has `energy_uj`, a
microjoule counter that wraps at `max_energy_range_uj` (within minutes to hours at full load).
The meter polls while a window is open, so each wrap is seen and unwrapped here (failed polls
are harmless unless they last a whole wrap period); windows then difference a monotonic total.
Package zones (part `cpu`) plus DRAM subzones (part `dram`) are summed: core/uncore subzones
are parts of their package, and `psys` covers both, so either would be counted twice.
"""

from __future__ import annotations

import re
from pathlib import Path

from green_ai.energy._backend import CPU, DRAM, Backend, Reading, SensorError
from green_ai.energy._measurement import MEASURED
from green_ai.errors import UserError

_TOP = re.compile(r"intel-rapl:\d+")
_SUB = re.compile(r"intel-rapl:\d+:\d+")


class _Zone:
    def __init__(self, label: str, path: Path) -> None:
        self.label = label
        self.path = path
        self.range_uj = int((path / "max_energy_range_uj").read_text())
        self.last_uj = int((path / "energy_uj").read_text())
        self.wraps_uj = 0

    def total_j(self) -> float:
        raw = int((self.path / "energy_uj").read_text())
        if raw < self.last_uj:  # the counter wrapped since the last reading
            self.wraps_uj += self.range_uj
        self.last_uj = raw
        return (raw + self.wraps_uj) / 1e6


class RaplBackend(Backend):
    """Sums the package and DRAM zones under `root` (`/sys/class/powercap` by default)."""

    name = "rapl"
    kind = MEASURED
    polls = True

    def __init__(self, root: str | Path = "/sys/class/powercap") -> None:
        root = Path(root)
        zones = self._find(root)
        try:
            self._zones = [_Zone(label, path) for label, path in zones]
        except (OSError, ValueError) as exc:
            raise UserError(
                f"RAPL counters under {root} are not readable ({exc}); they are often root-only: "
                f"sudo chmod a+r {root}/intel-rapl:*/energy_uj {root}/intel-rapl:*:*/energy_uj"
            ) from exc
        self.device_names = [label for label, _ in zones]

    @staticmethod
    def _find(root: Path) -> list[tuple[str, Path]]:
        if not root.is_dir():
            raise UserError(f"{root} does not exist (no RAPL on this machine)")
        try:
            dirs = sorted(p for p in root.iterdir() if p.name.startswith("intel-rapl:"))
            names = {p.name: (p / "name").read_text().strip() for p in dirs}
        except OSError as exc:
            raise UserError(f"RAPL zones under {root} are not readable ({exc})") from exc
        top = [p for p in dirs if _TOP.fullmatch(p.name)]
        chosen = [(names[p.name], p) for p in top if names[p.name].startswith("package")]
        if not chosen:  # no package zone: take what the top level offers
            chosen = [(names[p.name], p) for p in top]
        for p in dirs:
            parent = p.name.rsplit(":", 1)[0]
            if _SUB.fullmatch(p.name) and names[p.name] == "dram" and parent in names:
                chosen.append((f"{names[parent]}/dram", p))
        if not chosen:
            raise UserError(f"no intel-rapl zones under {root} (no RAPL on this machine)")
        return chosen

    def read(self) -> Reading:
        try:
            return Reading(energy_j={zone.label: zone.total_j() for zone in self._zones})
        except (OSError, ValueError) as exc:
            raise SensorError(f"RAPL read failed: {exc}") from exc

    def part(self, device: str) -> str:
        return DRAM if device.rsplit("/", 1)[-1] == "dram" else CPU

    def describe(self, interval_s: float) -> str:
        # package-0, package-1, package-0/dram -> "package(2),dram"
        kinds: dict[str, int] = {}
        for label in self.device_names:
            kind = label.rsplit("/", 1)[-1].split("-", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        return "rapl " + ",".join(k if n == 1 else f"{k}({n})" for k, n in kinds.items())
