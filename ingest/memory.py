"""Where a worker's memory goes: Python's allocator versus the C allocator (glibc malloc).

RSS alone cannot tell a leak (objects kept) from an allocator keeping freed memory for
reuse (a high-water mark after a large batch). These readings can: Python's allocated blocks
(``sys.getallocatedblocks``: what Python objects hold) and, on glibc, the bytes malloc has in
use versus the free bytes it keeps (``mallinfo2``). The worker reports them with its lag;
``make soak`` plots them beside RSS. Cheap: a counter read and one call that sums the arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable, Mapping
from functools import cache


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "mallinfo2"):  # glibc 2.33+
        return None
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def readings() -> dict[str, float]:
    """``python_blocks`` always; ``malloc_in_use_bytes`` and ``malloc_free_bytes`` on glibc
    (main arena and mmapped chunks in use; free bytes kept in the arenas)."""
    out = {"python_blocks": float(sys.getallocatedblocks())}
    libc = _libc()
    if libc is not None:
        info = libc.mallinfo2()
        out["malloc_in_use_bytes"] = float(info.uordblks + info.hblkhd)
        out["malloc_free_bytes"] = float(info.fordblks)
    return out


def trim() -> bool:
    """Hand free memory at the top and inside glibc's arenas back to the OS
    (``malloc_trim(0)``); False where there is no glibc."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


#: glibc's ``mallopt`` parameter for the most arenas malloc creates (``M_ARENA_MAX``).
_M_ARENA_MAX = -8
#: The worker's cap. glibc's default is 8 per core: each of the worker's threads (the loop,
#: Kafka's I/O and heartbeat, the producer, metrics) can hold its own arena, whose freed
#: chunks only that arena reuses. Measured by ``make soak`` (docs/soak.md): with the default
#: RSS crept at +0.4 to +0.5 MiB/min while objects stayed flat, and trimming did not stop it;
#: with 2 arenas it stayed flat (-0.40 ± 0.26 MiB/min), at the same peak.
ARENAS = 2


def limit_arenas(environ: Mapping[str, str], arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas, as ``MALLOC_ARENA_MAX`` would, unless the environment sets
    that (the operator's choice wins). Call before threads start: arenas already made stay.
    False where there is no glibc, the variable is set, or malloc refused."""
    libc = _libc()
    if libc is None or "MALLOC_ARENA_MAX" in environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


class Trimmer:
    """Calls :func:`trim` every ``every_s`` seconds (the worker's housekeeping).

    Why: a long soak showed the worker's RSS creeping up (+0.4 MiB/min) while what objects
    hold stayed flat; the difference was freed memory glibc kept in its arenas after peaks
    (a larger batch during a backlog), growing with fragmentation (docs/soak.md). Trimming
    hands it back; it takes about a millisecond on the worker's heap.
    """

    def __init__(self, every_s: float, clock: Callable[[], float]) -> None:
        self.every_s, self._clock = every_s, clock
        self._next = clock() + every_s

    def tick(self) -> None:
        if self._clock() < self._next:
            return
        self._next = self._clock() + self.every_s
        trim()
