"""The dead-letter cap: trip when most of a partition's recent messages were dead letters.

A bad deploy upstream makes every message invalid; without a cap the worker would dutifully
move the whole topic into the DLQ. Each partition keeps the outcome of its last ``window``
messages (a :class:`GuardWindow`, in its ``PartitionState``), and the guard trips once the
window is full and more than ``max_ratio`` of it were dead letters. Requiring a full window
keeps a handful of early bad messages from tripping it. Pure, no I/O: the worker decides what
tripping means (it stops, see docs/ingest.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """The window's state after one message."""

    tripped: bool
    dead: int
    window: int


class GuardWindow:
    """One partition's recent outcomes (True: a dead letter)."""

    __slots__ = ("dead", "outcomes")

    def __init__(self, size: int) -> None:
        self.outcomes: deque[bool] = deque(maxlen=size)
        self.dead = 0


class DlqGuard:
    """Sliding-window dead-letter ratio.

    Args:
        max_ratio: trip when dead letters / window > this; ``>= 1`` never trips.
        window: how many recent messages of a partition count.
    """

    def __init__(self, max_ratio: float, window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.max_ratio = max_ratio
        self.window = window

    def new_window(self) -> GuardWindow:
        """An empty window (a new partition, or one rewound: its outcomes will recur)."""
        return GuardWindow(self.window)

    def record(self, win: GuardWindow, dead: bool) -> GuardVerdict:
        """Record one message's outcome; say whether the window now trips."""
        if len(win.outcomes) == self.window and win.outcomes[0]:
            win.dead -= 1  # the oldest outcome is about to fall out of the window
        win.outcomes.append(dead)
        win.dead += dead
        full = len(win.outcomes) == self.window
        tripped = self.max_ratio < 1 and full and win.dead > self.max_ratio * self.window
        return GuardVerdict(tripped, win.dead, len(win.outcomes))
