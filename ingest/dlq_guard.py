"""The dead-letter cap: trip when most of a partition's recent messages were dead letters.

A bad deploy upstream makes every message invalid; without a cap the worker would dutifully
move the whole topic into the DLQ. The guard keeps, per partition, the outcome of the last
``window`` messages and trips once the window is full and more than ``max_ratio`` of it were
dead letters. Requiring a full window keeps a handful of early bad messages from tripping it.
Pure, no I/O: the consumer decides what tripping means (it stops, see docs/ingest.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ingest.batching import PartitionKey


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """The window's state after one message."""

    tripped: bool
    dead: int
    window: int


class _Window:
    __slots__ = ("dead", "outcomes")

    def __init__(self, size: int) -> None:
        self.outcomes: deque[bool] = deque(maxlen=size)
        self.dead = 0


class DlqGuard:
    """Sliding-window dead-letter ratio per partition.

    Args:
        max_ratio: trip when dead letters / window > this; ``>= 1`` never trips.
        window: how many recent messages of a partition count.
    """

    def __init__(self, max_ratio: float, window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.max_ratio = max_ratio
        self.window = window
        self._windows: dict[PartitionKey, _Window] = {}

    def record(self, key: PartitionKey, dead: bool) -> GuardVerdict:
        """Record one message's outcome; say whether the partition's window now trips."""
        win = self._windows.get(key)
        if win is None:
            win = self._windows[key] = _Window(self.window)
        if len(win.outcomes) == self.window and win.outcomes[0]:
            win.dead -= 1  # the oldest outcome is about to fall out of the window
        win.outcomes.append(dead)
        win.dead += dead
        full = len(win.outcomes) == self.window
        tripped = self.max_ratio < 1 and full and win.dead > self.max_ratio * self.window
        return GuardVerdict(tripped, win.dead, len(win.outcomes))

    def forget(self, key: PartitionKey) -> None:
        """Drop a partition's window (revoked, or seeked back: its outcomes will recur)."""
        self._windows.pop(key, None)
