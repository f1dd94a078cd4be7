"""The worker's processing strategy: messages -> rows or dead letters -> batches per
partition -> the store step -> commits. Driven by the loop (``ingest.worker``), which owns
the consumer; this module reaches it only through ``recovery.Control``. What happens when
something fails is ``ingest.recovery``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ingest.batching import BatchPolicy, PartitionKey
from ingest.dlq import DeadLetterQueue
from ingest.dlq_guard import DlqGuard
from ingest.errors import DeadLetterError, DlqGuardTripped
from ingest.metrics import Metrics
from ingest.partitions import Partitions
from ingest.processor import VisitProcessor
from ingest.recovery import EXIT_DLQ_GUARD, EXIT_DLQ_UNWRITABLE, EXIT_OK, Control, Recovery
from ingest.rows import KafkaCoordinates, Row
from ingest.store import InsertFailed, LetterRefused, Outcome, PublishFailed, Store, Stored
from schemas.raw_event import InvalidEvent

__all__ = ["EXIT_DLQ_GUARD", "EXIT_DLQ_UNWRITABLE", "EXIT_OK", "Flow"]

logger = logging.getLogger(__name__)


class Flow:
    """Processing, batching and storing for one consumer-group member. Not thread-safe."""

    def __init__(
        self,
        *,
        control: Control,
        processor: VisitProcessor,
        dlq: DeadLetterQueue,
        store: Store,
        policy: BatchPolicy,
        guard: DlqGuard,
        recovery: Recovery,
        partitions: Partitions,
        metrics: Metrics,
        wall_ms: Callable[[], int],
    ) -> None:
        self.control, self.processor, self.dlq, self.store = control, processor, dlq, store
        self.policy, self.guard, self.recovery = policy, guard, recovery
        self.partitions, self.metrics, self.wall_ms = partitions, metrics, wall_ms

    @property
    def degraded(self) -> bool:
        return self.recovery.degraded

    @property
    def stopping(self) -> bool:
        return self.recovery.stopping

    @property
    def exit_code(self) -> int:
        return self.recovery.exit_code

    def stop(self) -> None:
        self.recovery.stopping = True

    # -- messages ---------------------------------------------------------------------------

    def submit(self, topic: str, partition: int, messages: Sequence[Any]) -> None:
        """Process ``messages`` of one partition in order. Those not taken (stopping, a
        failure) are read again: the partition is rewound to the first of them."""
        key: PartitionKey = (topic, partition)
        part = self.partitions[key]
        taken = 0
        for i, msg in enumerate(messages):
            if self.recovery.stopping or self.recovery.degraded:
                # Our batches only ever cover contiguous offsets: go back to this one.
                if not self.recovery.stopping:
                    self.control.seek(key, msg.offset)
                break
            taken = i + 1
            try:
                row = _row_or_letter(self, msg, part.letters)
            except DeadLetterError as exc:
                self.recovery.letter_refused(key, exc, rewind_to=msg.offset)
                break
            verdict = self.guard.record(part.window, row is None)
            if verdict.tripped:
                self.recovery.tripped(
                    DlqGuardTripped(topic, partition, msg.offset, verdict.dead, verdict.window)
                )
                break
            if part.batch is None:
                part.batch = self.policy.start(topic, partition, msg.offset)
            part.batch.add(msg.offset, row)
            part.position = msg.offset + 1
            if self.policy.is_full(part.batch) and not self._flush([key]):
                # Kept for retry (pending, or still open): fetch again from just after it. A
                # dropped batch (refused letter) was already rewound to its first offset.
                kept = self.store.pending is not None or part.batch is not None
                if kept and taken < len(messages):
                    self.control.seek(key, messages[taken].offset)
                break
        # Counted once per poll result, not per message (a per-message call was 4% of the
        # worker's time, docs/benchmarks.md).
        self.metrics.increment("vh_ingest_events_consumed_total", taken)

    # -- batches ----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Store what is due, or retry the failed block once its backoff has passed."""
        if not self.recovery.degraded:
            due = self.policy.due(self.partitions.batches())
            if due:
                self._flush([b.key for b in due])
            return
        if now < self.recovery.retry_at:
            return
        # The failed block first, as it was, then whatever is open.
        if self._react(self.store.retry()) and self._flush(
            [p.key for p in self.partitions.with_batches()]
        ):
            self.recovery.recovered()

    def seconds_until_due(self, now: float) -> float | None:
        """When :meth:`tick` next has work: the retry time, or the oldest batch's deadline."""
        if self.recovery.degraded:
            return self.recovery.retry_at - now
        return self.policy.seconds_until_due(self.partitions.batches())

    def _flush(self, keys: Sequence[PartitionKey]) -> bool:
        """Store these partitions' batches as one block, then commit. False on failure."""
        return self._react(self.store.store([self.partitions[k] for k in keys]))

    def _react(self, outcome: Outcome | None) -> bool:
        if outcome is None:
            return True
        if isinstance(outcome, LetterRefused):
            self.recovery.letter_refused(outcome.key, outcome.error)
            return False
        if isinstance(outcome, InsertFailed):
            self.recovery.store_failed(outcome.error)
            return False
        if isinstance(outcome, PublishFailed):
            group = outcome.group
            firsts = {b.key: b.first_offset for b in group.batches if b.key not in group.detached}
            self.recovery.publish_failed(firsts, outcome.error)
            return False
        self._stored(outcome)
        return True

    def _stored(self, outcome: Stored) -> None:
        group = outcome.group
        self.metrics.timing("vh_ingest_insert_seconds", outcome.seconds)
        self.metrics.timing("vh_ingest_batch_rows", len(group.rows))
        self.metrics.increment("vh_ingest_events_stored_total", len(group.rows))
        self.metrics.increment("vh_ingest_events_erased_total", group.erased)
        if outcome.published:
            self.metrics.increment("vh_ingest_events_published_total", outcome.published)
            self.metrics.timing("vh_ingest_publish_seconds", outcome.publish_seconds)
        for key, offset in group.offsets().items():
            part = self.partitions[key]
            part.uncommitted = offset
            part.refusals.clear()
        self.commit()

    def commit(self) -> None:
        """Commit every stored-but-uncommitted offset. A refused commit (say, during a
        rebalance) is retried on the next loop turn: the rows are stored, and an idle
        partition would otherwise never commit them and redeliver them after a restart."""
        offsets = self.partitions.uncommitted()
        if not offsets:
            return
        try:
            self.control.commit(offsets)
        except Exception as exc:
            logger.warning(
                "commit failed (%s); retrying",
                str(exc),  # not the exception: a kept record would pin its traceback
                extra={
                    "offsets": {f"{t}[{p}]": o for (t, p), o in offsets.items()},
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            return
        self.partitions.committed(offsets)

    def drain(self) -> None:
        """Shutdown: one attempt at the failed block and every open batch, then commit; what
        fails stays uncommitted (redelivered)."""
        self.recovery.degraded = False
        stored = self._react(self.store.retry()) and self._flush(
            [p.key for p in self.partitions.with_batches()]
        )
        if not stored:
            logger.warning(
                "shutdown with unstored batches; they will be redelivered",
                extra={"rows": self.partitions.rows_pending()},
            )
        self.commit()

    # -- rebalances -------------------------------------------------------------------------

    def revoked(self, keys: Sequence[PartitionKey]) -> dict[PartitionKey, int]:
        """Forget revoked partitions' in-flight work, uncommitted, and rewind them; return
        the offsets they had stored but not committed (the caller commits them without
        waiting: see ``ingest.worker``). A revoked partition's batch inside the failed block
        stays in it, detached (``store.InsertGroup``)."""
        stored: dict[PartitionKey, int] = {}
        for key in keys:
            first = self.partitions.drop(key)
            detached = self.store.detach(key)
            if detached is not None:
                first = detached.first_offset
            if first is not None:
                # kafka-python keeps a position across a rebalance: without this, a partition
                # coming back to us would skip the dropped range.
                self.control.seek(key, first)
            state = self.partitions.remove(key)
            if state is not None and state.uncommitted is not None:
                stored[key] = state.uncommitted
        return stored


def _row_or_letter(flow: Flow, msg: Any, letters: list[Any]) -> Row | None:
    """The message's row; or ``None`` once it was sent to the dead-letter topic (the send
    pending in ``letters``, confirmed before the batch's offsets are committed)."""
    where = KafkaCoordinates(msg.topic, msg.partition, msg.offset)
    now_ms = flow.wall_ms()
    try:
        return flow.processor.process(msg.value, where, now_ms=now_ms, ingested_at_s=now_ms // 1000)
    except InvalidEvent as exc:
        letters.append(flow.dlq.send(msg.key, msg.value or b"", exc.reason, exc.detail, where))
        flow.metrics.increment(
            "vh_ingest_events_dead_lettered_total", labels={"reason": exc.reason}
        )
        logger.info(
            "dead letter",
            extra={"reason": exc.reason, "topic": msg.topic, "partition": msg.partition,
                   "offset": msg.offset},
        )  # fmt: skip
        return None
