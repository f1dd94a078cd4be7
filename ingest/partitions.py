"""What the worker holds for each assigned partition, in one object.

A partition's state: its open batch, the dead letters that batch sent (not yet confirmed),
its fetch position (for lag), the offset stored but not yet committed, the dead-letter cap's
window, and how often each of its letters was refused. Everything that must forget a
partition's in-flight work (a refused dead letter, a rebalance, the cap tripping) goes
through :meth:`PartitionState.drop`, which says where to rewind. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ingest.batching import Batch, PartitionKey
from ingest.dlq import PendingLetter
from ingest.dlq_guard import GuardWindow


@dataclass(slots=True, eq=False)
class PartitionState:
    """One partition's in-flight work. ``batch`` moves to the store once it is inserted."""

    key: PartitionKey
    window: GuardWindow
    batch: Batch | None = None
    letters: list[PendingLetter] = field(default_factory=list)
    position: int | None = None  # the next offset to read, for the lag
    uncommitted: int | None = None  # stored by ClickHouse, commit not accepted yet
    refusals: dict[int, int] = field(default_factory=dict)  # letter offset -> failed attempts

    def drop(self, window: GuardWindow) -> int | None:
        """Forget the open batch and its letters, start the cap's window afresh (the range's
        outcomes recur when it is read again); return the offset to rewind to (the batch's
        first), or None without a batch."""
        batch, self.batch = self.batch, None
        self.letters = []
        self.window = window
        return None if batch is None else batch.first_offset


class Partitions:
    """The states of the assigned partitions, created on first use.

    Args:
        new_window: an empty dead-letter-cap window (``DlqGuard.new_window``).
    """

    def __init__(self, new_window: Callable[[], GuardWindow]) -> None:
        self._new_window = new_window
        self._states: dict[PartitionKey, PartitionState] = {}

    def __getitem__(self, key: PartitionKey) -> PartitionState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = PartitionState(key, self._new_window())
        return state

    def get(self, key: PartitionKey) -> PartitionState | None:
        return self._states.get(key)

    def remove(self, key: PartitionKey) -> PartitionState | None:
        """Forget a partition (revoked); its state is returned for a last look."""
        return self._states.pop(key, None)

    def drop(self, key: PartitionKey) -> int | None:
        """:meth:`PartitionState.drop` of ``key``; None when it has no state."""
        state = self._states.get(key)
        return None if state is None else state.drop(self._new_window())

    def __iter__(self) -> Iterator[PartitionState]:
        return iter(list(self._states.values()))

    def batches(self) -> list[Batch]:
        return [s.batch for s in self._states.values() if s.batch is not None]

    def with_batches(self) -> list[PartitionState]:
        return [s for s in self._states.values() if s.batch is not None]

    def uncommitted(self) -> dict[PartitionKey, int]:
        return {k: s.uncommitted for k, s in self._states.items() if s.uncommitted is not None}

    def committed(self, offsets: dict[PartitionKey, int]) -> None:
        """These offsets were committed: they are no longer pending (unless moved since)."""
        for key, offset in offsets.items():
            state = self._states.get(key)
            if state is not None and state.uncommitted == offset:
                state.uncommitted = None

    def rows_pending(self) -> int:
        return sum(len(b.rows) for b in self.batches())
