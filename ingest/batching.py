"""Per-partition batch accumulation by size and age, with an injected clock. Pure, no I/O.

Batches are cut per Kafka partition so that each covers one contiguous offset range: its commit
is "last offset + 1" and its insert deduplication token names exactly that range, so a retried
batch carries the same token. A batch counts messages, not rows: dead letters and erased visits
take no row but their offsets are covered by the batch's commit all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ingest.rows import Row

Clock = Callable[[], float]
PartitionKey = tuple[str, int]  # (topic, partition)


@dataclass(slots=True)
class Batch:
    """Messages ``first_offset..last_offset`` of one partition, and the rows they gave."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    started_at: float
    rows: list[Row] = field(default_factory=list)
    messages: int = 0

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)

    @property
    def commit_offset(self) -> int:
        """The offset to commit once this batch is stored: the next message to read."""
        return self.last_offset + 1

    def dedup_token(self, incarnation: str | None = None) -> str:
        """Deterministic insert deduplication token: the same range gives the same token.

        ``incarnation`` is the topic's id (Kafka's topic UUID): a topic deleted and created
        again under the same name restarts its offsets at 0, and without the id its new
        batches would repeat old tokens within the server's deduplication window and be
        dropped as duplicates. ``~`` cannot occur in a topic name, so the token stays
        unambiguous.
        """
        topic = self.topic if not incarnation else f"{self.topic}~{incarnation}"
        return f"{topic}-{self.partition}-{self.first_offset}-{self.last_offset}"


class Batcher:
    """Open batches, one per partition; says which are due by size (messages) or age.

    Args:
        max_messages: a batch is due once it holds this many messages.
        max_seconds: a batch is due once its first message is this old (0: at once).
        clock: seconds, monotonic (``time.monotonic`` in production, a fake in tests).
    """

    def __init__(self, max_messages: int, max_seconds: float, clock: Clock) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be >= 1")
        self.max_messages = max_messages
        self.max_seconds = max_seconds
        self._clock = clock
        self._open: dict[PartitionKey, Batch] = {}

    def add(self, topic: str, partition: int, offset: int, row: Row | None) -> Batch:
        """Record message ``offset`` (``row`` None: it gave no row). Returns its batch.

        Raises:
            ValueError: ``offset`` does not follow the batch's last offset (a bug: the caller
                must take or drop a batch before seeking its partition).
        """
        key = (topic, partition)
        batch = self._open.get(key)
        if batch is None:
            batch = Batch(topic, partition, offset, offset - 1, self._clock())
            self._open[key] = batch
        elif offset <= batch.last_offset:
            raise ValueError(f"{topic}[{partition}] offset {offset} <= {batch.last_offset}")
        batch.last_offset = offset
        batch.messages += 1
        if row is not None:
            batch.rows.append(row)
        return batch

    def is_full(self, key: PartitionKey) -> bool:
        batch = self._open.get(key)
        return batch is not None and batch.messages >= self.max_messages

    def due(self) -> list[PartitionKey]:
        """Partitions whose batch is full or old enough, oldest first."""
        now = self._clock()
        ready = [
            b
            for b in self._open.values()
            if b.messages >= self.max_messages or now - b.started_at >= self.max_seconds
        ]
        return [b.key for b in sorted(ready, key=lambda b: b.started_at)]

    def seconds_until_due(self) -> float | None:
        """Seconds until the oldest open batch is due by age (0 if one is already due), or
        None when no batch is open."""
        if not self._open:
            return None
        if any(b.messages >= self.max_messages for b in self._open.values()):
            return 0.0
        oldest = min(b.started_at for b in self._open.values())
        return max(oldest + self.max_seconds - self._clock(), 0.0)

    def get(self, key: PartitionKey) -> Batch | None:
        return self._open.get(key)

    def take(self, key: PartitionKey) -> Batch | None:
        """Remove and return the partition's batch (None when it has none)."""
        return self._open.pop(key, None)

    def open_partitions(self) -> Iterator[PartitionKey]:
        """Partitions with an open batch (a snapshot: safe to take batches meanwhile)."""
        return iter(list(self._open))

    def rows_pending(self) -> int:
        return sum(len(b.rows) for b in self._open.values())

    def __len__(self) -> int:
        return len(self._open)
