"""A single-node SLURM cluster in a temporary directory, from Debian's `slurm-wlm` and `munge`.

Everything it uses lives under its directory: its own `slurm.conf`, munge key and socket, state
and spool folders, so nothing of `/etc/slurm` or `/etc/munge` is read and a machine set up by
hand cannot hide a missing step. Its daemons run in the foreground as children of this process
and are stopped by their PIDs. `python tests/cluster/slurm.py DIR` starts one for a person to
try commands against (it prints the `SLURM_CONF` to export) and stops it on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
SBIN = Path("/usr/sbin")
# A requeued job waits this long before it starts again (SLURM's default is 120 s).
CRED_EXPIRE_S = 5


def missing() -> str | None:
    """Why no cluster can start here, or None."""
    absent = [d for d in DAEMONS if not (SBIN / d).exists()]
    absent += [c for c in ("sbatch", "squeue", "sinfo", "scancel") if not shutil.which(c)]
    if absent:
        missing = ", ".join(absent)
        return f"SLURM is not installed ({missing} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "a test SLURM cluster runs its daemons as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory_mb() -> int:
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return max(2048, min(total_kb // 1024 - 4096, 8000))


class LocalSlurm:
    """One node (this machine) in partition `debug`: its CPUs, a few GB of memory, no GPUs,
    no accounting (squeue only), a 30-minute time limit."""

    def __init__(self, root: Path, *, max_time_min: int = 30) -> None:
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.cpus = os.cpu_count() or 1
        self.memory_mb = _memory_mb()
        self.max_time_min = max_time_min
        self.conf = root / "slurm.conf"
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_config(self) -> None:
        r = self.root
        for folder in ("state", "spool", "munge", "log"):
            (r / folder).mkdir(parents=True, exist_ok=True)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        lines = {
            "ClusterName": "green_ai_test",
            "SlurmctldHost": self.host,
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "SlurmUser": "root",
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={r / 'munge' / 'munge.sock'},cred_expire={CRED_EXPIRE_S}",
            "CredType": "cred/munge",
            "StateSaveLocation": r / "state",
            "SlurmdSpoolDir": r / "spool",
            "SlurmctldPidFile": r / "slurmctld.pid",
            "SlurmdPidFile": r / "slurmd.pid",
            "SlurmctldLogFile": r / "log" / "slurmctld.log",
            "SlurmdLogFile": r / "log" / "slurmd.log",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core_Memory",
            "AccountingStorageType": "accounting_storage/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "JobCompType": "jobcomp/none",
            "MpiDefault": "none",
            "ReturnToService": 2,
            "SchedulerParameters": "sched_interval=2",
            "KillWait": 5,
            "MinJobAge": 60,
            "NodeName": f"{self.host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
            "PartitionName": f"debug Nodes={self.host} Default=YES MaxTime={self.max_time_min}"
            " State=UP",
        }
        self.conf.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def start(self, timeout_s: float = 30) -> None:
        self.write_config()
        r, log = self.root, self.root / "log"
        sock = r / "munge" / "munge.sock"
        self._spawn(
            [
                SBIN / "munged",
                "-F",
                "--force",
                f"--key-file={r / 'munge' / 'munge.key'}",
                f"--socket={sock}",
                f"--pid-file={r / 'munge' / 'munged.pid'}",
                f"--seed-file={r / 'munge' / 'seed'}",
                f"--log-file={log / 'munged.log'}",
            ],
            log / "munged.out",
        )
        self._wait(lambda: sock.exists(), timeout_s, "munged made no socket")
        self._spawn([SBIN / "slurmctld", "-D", "-f", self.conf], log / "slurmctld.out")
        self._spawn([SBIN / "slurmd", "-D", "-f", self.conf], log / "slurmd.out")
        self._wait(self._idle, timeout_s, "the node did not become idle")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=30)

    def _spawn(self, command: list[object], out: Path) -> None:
        with out.open("wb") as f:
            proc = subprocess.Popen(
                [str(c) for c in command], stdout=f, stderr=subprocess.STDOUT, env=self.env
            )
        self.procs.append(proc)

    def _idle(self) -> bool:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{proc.args[0]} exited with {proc.returncode}: see {self.root / 'log'}"
                )
        out = self.run("sinfo", "-h", "-o", "%t")
        return out.returncode == 0 and out.stdout.strip() == "idle"

    @staticmethod
    def _wait(ready: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    cluster = LocalSlurm(Path(sys.argv[1]).resolve())
    cluster.start()
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
