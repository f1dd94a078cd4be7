"""Which offsets of the enriched stream may be committed: pure, thread-safe.

An event is done when every endpoint of its tenant has it delivered or dead-lettered. A
partition may be committed up to (not including) its oldest event not done, or past the
last event read when all are. Only events not done are held (an insertion-ordered dict per
partition, offsets arrive in order), so memory follows the deliveries in flight, which the
endpoints' bounded queues bound.
"""

from __future__ import annotations

import threading

Partition = tuple[str, int]  # (topic, partition)


class OffsetTracker:
    """Outstanding deliveries per (partition, offset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[Partition, dict[int, int]] = {}
        self._next: dict[Partition, int] = {}

    def add(self, partition: Partition, offset: int, deliveries: int) -> None:
        """``offset`` was read and handed to ``deliveries`` endpoints (0: done at once)."""
        with self._lock:
            self._next[partition] = offset + 1
            if deliveries > 0:
                self._open.setdefault(partition, {})[offset] = deliveries

    def done(self, partition: Partition, offset: int) -> None:
        """One delivery of ``offset`` finished (delivered or dead-lettered); ignored for a
        partition forgotten since (revoked: its new owner delivers again)."""
        with self._lock:
            events = self._open.get(partition)
            if events is None or offset not in events:
                return
            events[offset] -= 1
            if events[offset] <= 0:
                del events[offset]

    def committable(self) -> dict[Partition, int]:
        """Per partition, the next offset to read that a commit may name."""
        with self._lock:
            out = {}
            for partition, following in self._next.items():
                events = self._open.get(partition)
                out[partition] = next(iter(events)) if events else following
            return out

    def outstanding(self) -> int:
        with self._lock:
            return sum(len(e) for e in self._open.values())

    def forget(self, partition: Partition) -> None:
        """The partition was revoked."""
        with self._lock:
            self._open.pop(partition, None)
            self._next.pop(partition, None)
