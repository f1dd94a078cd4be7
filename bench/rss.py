"""Resident memory of other processes, sampled from ``/proc/<pid>/status`` in a thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Self


def rss_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, RssAnon) of ``pid`` in MiB, or None once the process is gone.

    RssAnon is the private part (heap); the rest is mostly file pages such as the mmap'd GeoIP
    database, which the page cache shares between workers on one machine.
    """
    found: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    found[line.split(":")[0]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    if "VmRSS" not in found:
        return None
    return found["VmRSS"], found.get("RssAnon", found["VmRSS"])


@dataclass
class Curve:
    """One process's samples: (seconds since sampling began, MiB)."""

    label: str
    samples: list[tuple[float, float]] = field(default_factory=list)
    anon: list[float] = field(default_factory=list)  # RssAnon, parallel to samples

    @property
    def peak(self) -> float:
        return max((mb for _t, mb in self.samples), default=0.0)

    @property
    def peak_anon(self) -> float:
        return max(self.anon, default=0.0)

    def halves(self, warmup: float = 0.25) -> tuple[float, float]:
        """Peak VmRSS in the first and in the second half of the run after ``warmup``.

        Batches fill and flush, so single samples saw-tooth; a leak shows as a higher peak in
        the second half than in the first.
        """
        if not self.samples:
            return 0.0, 0.0
        end = self.samples[-1][0]
        start, mid = end * warmup, end * (1 + warmup) / 2
        first = [mb for t, mb in self.samples if start <= t < mid]
        second = [mb for t, mb in self.samples if t >= mid]
        return max(first, default=0.0), max(second, default=0.0)

    def after_warmup(self, share: float = 0.25) -> tuple[float, float]:
        """(MiB at the end of the warm-up share of the run, MiB at the end): flat means equal."""
        if not self.samples:
            return 0.0, 0.0
        end = self.samples[-1][0]
        warm = next(mb for t, mb in self.samples if t >= end * share)
        return warm, self.samples[-1][1]

    def points(self, n: int = 5) -> list[float]:
        """``n`` samples evenly spread over the run (for a small table)."""
        if not self.samples:
            return []
        step = max((len(self.samples) - 1) / max(n - 1, 1), 1e-9)
        return [self.samples[min(round(i * step), len(self.samples) - 1)][1] for i in range(n)]


class Periodic:
    """Calls :meth:`sample` every ``interval`` seconds in a thread, from ``with`` to exit."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def sample(self, seconds: float) -> None:
        """One reading, ``seconds`` after sampling began."""
        raise NotImplementedError

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.sample(time.monotonic() - start)
            self._stop.wait(self._interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class Sampler(Periodic):
    """Samples every ``interval`` seconds until :meth:`stop`; one :class:`Curve` per pid."""

    def __init__(self, pids: dict[int, str], interval: float = 0.5) -> None:
        super().__init__(interval)
        self.curves = {pid: Curve(label) for pid, label in pids.items()}

    def sample(self, seconds: float) -> None:
        for pid, curve in self.curves.items():
            found = rss_mb(pid)
            if found is not None:
                curve.samples.append((seconds, found[0]))
                curve.anon.append(found[1])
