"""CPU time of processes and of the whole machine over a window, from ``/proc``.

Answers "who used the 2 cores while the workers ran": the workers, ClickHouse, Kafka, and
everything else (other jobs on a shared machine), in cores (CPU seconds per second).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used so far, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle or iowait) since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / _TICK


def service_pids(var_dir: Path) -> dict[str, int]:
    """The local stack's Kafka and ClickHouse pids from their pid files (missing: left out).
    ``var_dir``: where this checkout keeps its own; ``VH_VAR_DIR`` (the stack's, as
    ``deploy.local`` reads it) wins when set, since the stack may run from another tree."""
    var_dir = Path(os.environ.get("VH_VAR_DIR") or var_dir)
    out = {}
    for label, pid_file in (
        ("ClickHouse", var_dir / "clickhouse" / "clickhouse.pid"),
        ("Kafka", var_dir / "kafka" / "kafka.pid"),
    ):
        with contextlib.suppress(OSError, ValueError):
            out[label] = int(pid_file.read_text().strip())
    return out


@dataclass
class CpuWindow:
    """Cores used per label between :meth:`start` and :meth:`stop` (plus the machine)."""

    pids: dict[str, list[int]]
    cores: dict[str, float] | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._machine0 = machine_busy_seconds()
        self._cpu0 = {
            pid: process_seconds(pid) or 0.0 for pids in self.pids.values() for pid in pids
        }

    def stop(self) -> dict[str, float]:
        """{label: cores}, with ``machine`` (all busy cores) and ``other`` (the rest)."""
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        cores = {}
        for label, pids in self.pids.items():
            used = 0.0
            for pid in pids:
                now = process_seconds(pid)
                if now is not None:
                    used += now - self._cpu0.get(pid, 0.0)
            cores[label] = used / elapsed
        cores["machine"] = (machine_busy_seconds() - self._machine0) / elapsed
        cores["other"] = max(
            cores["machine"] - sum(v for k, v in cores.items() if k != "machine"), 0.0
        )
        self.cores = cores
        return cores
