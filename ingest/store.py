"""The store step: partitions' due batches -> one ClickHouse insert, and what came of it.

Order of effects for the batches stored together: their dead letters are acknowledged by
Kafka, visits of erased visitors are dropped (``ingest.erasures``), the rest go to ClickHouse
as ONE block, once ClickHouse acknowledged it they are published to the enriched stream
(``ingest.enriched``, when on) and Kafka's acknowledgements awaited, and only then may the
batches' offsets be committed (the caller does that with the :class:`Stored` outcome).
Nothing here commits, seeks or pauses: the step returns an
outcome and the caller (``ingest.flow``) reacts to it.

Why one block: ClickHouse prefers few large inserts; each insert writes a part per month
touched, in ``visits`` and in every table its materialized views feed. Inserting the batches
due together as one block (rather than one per Kafka partition) cut ClickHouse's CPU per
event by a fifth, 14.0 to 11.4 µs (docs/benchmarks.md).

A block that fails is kept (:attr:`Store.pending`) and retried exactly as it was, before
anything else: the same rows (filtered once, so a later erasure snapshot cannot change them)
under the same deduplication token, so a first attempt the server stored after all (a lost
acknowledgement) makes the retry a no-op. Replicated tables drop an identical block on any
server version; current servers also match the token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ingest.batching import Batch, PartitionKey
from ingest.dlq import PendingLetter
from ingest.errors import ClickHouseUnavailable, DeadLetterError, EnrichedStreamError
from ingest.partitions import PartitionState
from ingest.rows import Row


class Writer(Protocol):
    def insert_visits(self, rows: Sequence[Row], dedup_token: str, *, retry: bool) -> None: ...


class Letters(Protocol):
    def confirm(self, letters: Sequence[PendingLetter]) -> None: ...


class Publisher(Protocol):
    def publish(self, rows: Sequence[Row]) -> int: ...


class Erasures(Protocol):
    def refresh_if_due(self) -> None: ...

    def keep(self, rows: list[Row]) -> tuple[list[Row], int]: ...


@dataclass(slots=True)
class InsertGroup:
    """Batches inserted as one block.

    ``detached``: partitions revoked since the group was formed. Their batches stay in the
    block (leaving them out would change the token, and a first attempt the server stored
    would then be stored again), but their offsets are no longer ours to commit.
    ``failures``: attempts not acknowledged so far (the next one is a retry).
    """

    batches: list[Batch]
    rows: list[Row]
    token: str
    erased: int
    detached: set[PartitionKey] = field(default_factory=set)
    failures: int = 0

    def offsets(self) -> dict[PartitionKey, int]:
        """What to commit once stored: each attached batch's next offset."""
        return {b.key: b.commit_offset for b in self.batches if b.key not in self.detached}


@dataclass(frozen=True, slots=True)
class Stored:
    """ClickHouse acknowledged the group: its offsets may be committed."""

    group: InsertGroup
    seconds: float
    published: int = 0  # events the enriched stream acknowledged
    publish_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PublishFailed:
    """ClickHouse stored the group but the enriched stream did not acknowledge its events:
    nothing may be committed; the batches' ranges must be read again (the insert repeats
    idempotently). The group is not kept: it is rebuilt from Kafka."""

    group: InsertGroup
    error: EnrichedStreamError


@dataclass(frozen=True, slots=True)
class LetterRefused:
    """A dead letter of ``key`` was not acknowledged: that partition's batch must be dropped
    and its range read again (the letters' bytes are gone). Nothing was inserted."""

    key: PartitionKey
    error: DeadLetterError


@dataclass(frozen=True, slots=True)
class InsertFailed:
    """ClickHouse failed. Batches already taken are in :attr:`Store.pending`."""

    error: ClickHouseUnavailable


Outcome = Stored | LetterRefused | InsertFailed | PublishFailed


class Store:
    """Confirms dead letters, filters erasures, inserts.

    Args:
        writer: the ClickHouse door (``ingest.writer.ClickHouseWriter``).
        letters: the dead-letter queue (``ingest.dlq.DeadLetterQueue``).
        erasures: the erasure snapshot (``ingest.erasures.ErasureView``).
        incarnation: a topic's id for the tokens (None when unknown).
        clock: monotonic seconds (insert latency).
        enriched: the enriched stream (``ingest.enriched.EnrichedStream``); None: off.
    """

    def __init__(
        self,
        writer: Writer,
        letters: Letters,
        erasures: Erasures,
        incarnation: Callable[[str], str | None],
        clock: Callable[[], float],
        enriched: Publisher | None = None,
    ) -> None:
        self.writer, self.letters, self.erasures = writer, letters, erasures
        self.enriched = enriched
        self._incarnation, self._clock = incarnation, clock
        self.pending: InsertGroup | None = None

    def store(self, parts: Sequence[PartitionState]) -> Outcome | None:
        """Store these partitions' open batches as one block; None when none has a batch.

        Each batch moves from its partition into the group once its letters are confirmed
        and the erasure snapshot is fresh; until then it stays where it is.
        """
        parts = sorted((p for p in parts if p.batch is not None), key=lambda p: p.key)
        if not parts:
            return None
        for part in parts:
            try:
                self.letters.confirm(part.letters)
            except DeadLetterError as exc:
                return LetterRefused(part.key, exc)
            part.letters = []
        try:
            self.erasures.refresh_if_due()
        except ClickHouseUnavailable as exc:
            return InsertFailed(exc)
        batches: list[Batch] = []
        rows: list[Row] = []
        erased = 0
        for part in parts:
            assert part.batch is not None
            batch, part.batch = part.batch, None
            kept, dropped = self.erasures.keep(batch.rows)
            rows.extend(kept)
            erased += dropped
            batches.append(batch)
        token = "|".join(b.dedup_token(self._incarnation(b.topic)) for b in batches)
        return self._insert(InsertGroup(batches, rows, token, erased))

    def retry(self) -> Outcome | None:
        """Insert the pending group again, as it is; None when there is none."""
        return None if self.pending is None else self._insert(self.pending)

    def detach(self, key: PartitionKey) -> Batch | None:
        """``key`` was revoked: if the pending group holds its batch, keep it there but stop
        it from being committed; return that batch (its range must be read again)."""
        if self.pending is None:
            return None
        for batch in self.pending.batches:
            if batch.key == key:
                self.pending.detached.add(key)
                return batch
        return None

    def _insert(self, group: InsertGroup) -> Outcome:
        started = self._clock()
        try:
            self.writer.insert_visits(group.rows, group.token, retry=group.failures > 0)
        except ClickHouseUnavailable as exc:
            group.failures += 1
            self.pending = group
            return InsertFailed(exc)
        self.pending = None
        stored = self._clock()
        if self.enriched is None:
            return Stored(group, stored - started)
        try:
            published = self.enriched.publish(group.rows)
        except EnrichedStreamError as exc:
            return PublishFailed(group, exc)
        return Stored(group, stored - started, published, self._clock() - stored)
