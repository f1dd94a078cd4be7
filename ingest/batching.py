"""Per-partition batches, cut by size and age with an injected clock. Pure, no I/O.

Batches are cut per Kafka partition so that each covers one contiguous offset range: its commit
is "last offset + 1" and its insert deduplication token names exactly that range, so a retried
batch carries the same token. A batch counts messages, not rows: dead letters and erased visits
take no row but their offsets are covered by the batch's commit all the same. Each partition's
open batch lives in its :class:`~ingest.partitions.PartitionState`; :class:`BatchPolicy` says
when batches are due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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

    def add(self, offset: int, row: Row | None) -> None:
        """Record message ``offset`` (``row`` None: it gave no row).

        Raises:
            ValueError: ``offset`` does not follow the last offset (a bug: a batch must be
                dropped before its partition is rewound).
        """
        if offset <= self.last_offset:
            raise ValueError(
                f"{self.topic}[{self.partition}] offset {offset} <= {self.last_offset}"
            )
        self.last_offset = offset
        self.messages += 1
        if row is not None:
            self.rows.append(row)

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


class BatchPolicy:
    """When batches are due: by size (messages) or by the age of their first message.

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
        self.clock = clock

    def start(self, topic: str, partition: int, offset: int) -> Batch:
        """An empty batch whose first message will be ``offset``, started now."""
        return Batch(topic, partition, offset, offset - 1, self.clock())

    def is_full(self, batch: Batch) -> bool:
        return batch.messages >= self.max_messages

    def due(self, batches: Iterable[Batch]) -> list[Batch]:
        """The batches that are full or old enough, oldest first."""
        now = self.clock()
        ready = [
            b
            for b in batches
            if b.messages >= self.max_messages or now - b.started_at >= self.max_seconds
        ]
        return sorted(ready, key=lambda b: b.started_at)

    def seconds_until_due(self, batches: Iterable[Batch]) -> float | None:
        """Seconds until the oldest batch is due by age (0 if one is already due), or None
        when there is no batch."""
        batches = list(batches)
        if not batches:
            return None
        if any(b.messages >= self.max_messages for b in batches):
            return 0.0
        oldest = min(b.started_at for b in batches)
        return max(oldest + self.max_seconds - self.clock(), 0.0)
