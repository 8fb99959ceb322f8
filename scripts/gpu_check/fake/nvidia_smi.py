"""A fake `nvidia-smi` for the GPU check's dry run: the fake `pynvml`'s trace, as CSV.

Understands only what the check asks: `-L`, and `--query-gpu=FIELDS --format=csv,...` with
optional `-i ID` and `-lms MS` (repeat every MS milliseconds until killed). Fields: timestamp,
power.draw (one-second average, like the fake NVML), power.draw.instant, name, driver_version.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pynvml  # noqa: E402 - the fake beside this file


def value(field: str, t: float) -> str:
    if field == "timestamp":
        return datetime.fromtimestamp(t).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
    if field in ("power.draw", "power.draw.average"):
        return f"{pynvml.energy_j(t) - pynvml.energy_j(t - 1.0):.2f}"
    if field == "power.draw.instant":
        return f"{pynvml.power_w(t):.2f}"
    if field == "name":
        return pynvml.nvmlDeviceGetName(0)
    if field == "driver_version":
        return pynvml.nvmlSystemGetDriverVersion()
    raise SystemExit(f'Field "{field}" is not a valid field to query.')


def main(argv: list[str]) -> int:
    if "-L" in argv:
        print(f"GPU 0: {pynvml.nvmlDeviceGetName(0)} (UUID: {pynvml.UUID})")
        return 0
    query = next(a.split("=", 1)[1] for a in argv if a.startswith("--query-gpu="))
    fields = query.split(",")
    every_s = float(argv[argv.index("-lms") + 1]) / 1000 if "-lms" in argv else None
    while True:
        t = time.time()
        print(", ".join(value(f, t) for f in fields), flush=True)
        if every_s is None:
            return 0
        time.sleep(every_s)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
