"""The consumer loop: poll -> process -> batch per partition -> insert -> commit.

Batches are cut per partition (each one contiguous offset range) and inserted together: the
batches due at the same time go to ClickHouse as one block. Order of effects for one partition
batch (offsets ``first..last``): dead letters of the batch are acknowledged by Kafka, then the
rows are inserted and ClickHouse acknowledges, then ``last + 1`` is committed. A crash anywhere
before the commit redelivers the whole range, which storage deduplicates (ReplacingMergeTree,
insert token, ``LIMIT 1 BY`` on reads).

ClickHouse failing: the batch stays in memory, every assigned partition is paused (no more
fetching, so memory stays bounded by one batch per partition), and ``poll()`` keeps being
called so the worker stays in its group; the insert is retried after a jittered backoff and
the partitions are resumed once it succeeds.

Kafka failing (a broker restarting): ``poll()`` raising is logged with its traceback and
retried after a jittered backoff; open batches, positions and pending commits are kept, and
nothing is committed that ClickHouse has not acknowledged. A dead letter that cannot be
queued or is not confirmed in time drops its partition's open batch (read again later), for
as long as Kafka stays away. The same letter failing ``dlq_max_attempts`` times, each time
after its source message was fetched again (so Kafka serves that partition), means the DLQ
topic refuses it: the worker stops with exit code 4 and says what to check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest.backoff import Backoff
from ingest.batching import Batch, Batcher, PartitionKey
from ingest.dlq import DeadLetterQueue, PendingLetter
from ingest.dlq_guard import DlqGuard
from ingest.erasures import ErasureView
from ingest.errors import (
    ClickHouseUnavailable,
    DeadLetterError,
    DeadLetterQueueUnwritable,
    DlqGuardTripped,
)
from ingest.kafka_clients import (
    ConsumerRebalanceListener,
    KafkaError,
    TopicPartition,
    commit_offsets,
    topic_id,
    wait_for_partitions,
)
from ingest.metrics import Metrics, NoMetrics
from ingest.processor import VisitProcessor
from ingest.rows import KafkaCoordinates, Row
from ingest.writer import ClickHouseWriter
from schemas.raw_event import InvalidEvent

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_DLQ_GUARD, EXIT_DLQ_UNWRITABLE = 0, 3, 4
_LAG_EVERY_S = 5.0
# Longest poll() while nothing waits for a deadline: bounds how late stop(), housekeeping and
# lag reports run. Long enough that a group join usually completes inside one poll (see
# kafka_clients._keep_completed_joins for what happens when it does not).
_IDLE_POLL_S = 1.0
_MIN_POLL_MS = 10


@dataclass(slots=True)
class _InsertGroup:
    """Batches inserted as one block. A failed group is retried exactly as it was: the same
    rows (filtered once, so a later erasure snapshot cannot change the block) under the same
    token, so the server drops the retry if the first attempt was stored after all.

    ``detached``: partitions revoked since the group was formed. Their batches stay in the
    block (leaving them out would change the token, and a first attempt the server stored
    would then be stored again), but their offsets are no longer ours to commit.
    """

    batches: list[Batch]
    rows: list[Row]
    token: str
    erased: int
    detached: set[PartitionKey] = field(default_factory=set)

    def keys(self) -> list[PartitionKey]:
        return [b.key for b in self.batches]


class Worker:
    """One consumer-group member. Not thread-safe, except :meth:`stop`.

    Args:
        consumer: an unsubscribed KafkaConsumer (``kafka_clients.make_consumer``); owned.
        topic: the raw-visit topic.
        writer, dlq, processor, erasures, guard: the steps (see their modules).
        batcher: per-partition batches (its clock is the worker's).
        backoff: delays between insert retries.
        metrics: where counts go.
        clock: monotonic seconds; ``wall_ms``: epoch ms (timestamp check, ``ingested_at``).
        housekeeping: called every loop turn while inserts succeed (retention, erasure
            purges); must not raise.
        sleep: real-time sleep between retries of a failing Kafka call.
        dlq_max_attempts: failed attempts at the same dead letter before the worker stops.
    """

    def __init__(
        self,
        *,
        consumer: Any,
        topic: str,
        writer: ClickHouseWriter,
        dlq: DeadLetterQueue,
        processor: VisitProcessor,
        erasures: ErasureView,
        guard: DlqGuard,
        batcher: Batcher,
        backoff: Backoff,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        housekeeping: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        dlq_max_attempts: int = 10,
    ) -> None:
        self.consumer, self.topic, self.writer, self.dlq = consumer, topic, writer, dlq
        self.processor, self.erasures, self.guard, self.batcher = (
            processor,
            erasures,
            guard,
            batcher,
        )
        self.backoff, self.metrics = backoff, metrics or NoMetrics()
        self.clock, self.wall_ms, self.housekeeping = clock, wall_ms, housekeeping
        self._sleep = sleep
        # Separate from ``backoff`` (inserts): Kafka and ClickHouse fail independently.
        self._kafka_backoff = Backoff(backoff.initial_s, backoff.max_s)
        self._dead: dict[PartitionKey, list[PendingLetter]] = {}  # unconfirmed, per batch
        self._dlq_attempts: dict[KafkaCoordinates, int] = {}  # failed letters, by source
        self.dlq_max_attempts = dlq_max_attempts
        self._positions: dict[PartitionKey, int] = {}
        self._uncommitted: dict[PartitionKey, int] = {}  # stored, commit refused so far
        self._pending: _InsertGroup | None = None  # failed to insert: retried first, as is
        self._stopping = False
        self._exit_code = EXIT_OK
        self.degraded = False  # inserts failing: partitions paused
        self._retry_at = 0.0
        self._lag_at = 0.0

    def stop(self) -> None:
        """Ask the loop to flush, commit and return (safe from a signal handler)."""
        self._stopping = True

    def run(self) -> int:
        """Consume until :meth:`stop` or the dead-letter cap; return the exit code."""
        self.consumer.subscribe([self.topic], listener=_Listener(self))
        # Fresh metadata after subscribing and before joining, or the group leader assigns
        # from a stale view and rebalances again right after the first join (see
        # wait_for_partitions): the batch read meanwhile would be read twice.
        if not wait_for_partitions(self.consumer, self.topic):
            logger.warning(
                "topic has no partitions yet; joining anyway", extra={"topic": self.topic}
            )
        try:
            while not self._stopping:
                records = self._poll()
                for tp, messages in records.items():
                    self._consume(tp, messages)
                if self.degraded:
                    self._retry_if_due()
                else:
                    self._flush_due()
                self._commit()
                self._report_lag()
                if not self.degraded:
                    # Not while a failed group waits: the erasure purge must run after every
                    # insert made with an older erasure snapshot (ingest.purge).
                    self.housekeeping()
            self._flush_all()
            self._commit()
        finally:
            try:
                self.consumer.close(autocommit=False)
            except KafkaError:
                # Leaving the group failed (broker down): its session expires instead.
                logger.warning("consumer close failed", exc_info=True)
        logger.info("worker stopped", extra={"exit_code": self._exit_code})
        return self._exit_code

    def _poll(self) -> Any:
        """One ``poll()``; a Kafka failure is logged, waited out (backoff) and gives ``{}``.

        Everything the worker holds stays as it is: open batches are flushed when due (a
        ClickHouse insert does not need Kafka), their commits are retried each turn until the
        broker takes them, and kafka-python keeps the fetch positions.
        """
        try:
            records = self.consumer.poll(timeout_ms=self._poll_timeout_ms())
        except KafkaError as exc:
            delay = self._kafka_backoff.next_delay()
            logger.warning(
                "Kafka poll failed; retrying",
                exc_info=True,
                extra={
                    "error": f"{type(exc).__name__}: {exc}",
                    "retry_in_s": round(delay, 3),
                    "attempt": self._kafka_backoff.failures,
                },
            )
            self._wait(delay)
            return {}
        if self._kafka_backoff.failures:
            logger.info("Kafka poll works again", extra={"failures": self._kafka_backoff.failures})
            self._kafka_backoff.reset()
        return records

    def _poll_timeout_ms(self) -> int:
        """Wait in poll() until the next thing the loop must do: the oldest batch due by age
        or the next insert retry, at most ``_IDLE_POLL_S``. A short fixed timeout would
        also cut group joins short (kafka-python awaits a join only for the poll timeout)."""
        wait = _IDLE_POLL_S
        if self.degraded:
            wait = min(wait, self._retry_at - self.clock())
        else:
            due = self.batcher.seconds_until_due()
            if due is not None:
                wait = min(wait, due)
        return max(int(wait * 1000), _MIN_POLL_MS)

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, returning early once :meth:`stop` was called."""
        deadline = self.clock() + seconds
        while not self._stopping and self.clock() < deadline:
            self._sleep(min(0.1, max(deadline - self.clock(), 0.0)))

    # -- per message ------------------------------------------------------------------------

    def _consume(self, tp: Any, messages: Sequence[Any]) -> None:
        taken = self._take(tp, messages)
        # Counted once per poll result, not per message (a per-message call was 4% of the
        # worker's time, docs/benchmarks.md).
        self.metrics.increment("vh_ingest_events_consumed_total", taken)

    def _take(self, tp: Any, messages: Sequence[Any]) -> int:
        """Process ``messages`` in order; how many were taken (the rest are read again)."""
        key: PartitionKey = (tp.topic, tp.partition)
        for i, msg in enumerate(messages):
            if self._stopping or self.degraded:
                # Not processed: read again after resume (or by the next owner). Our batches
                # only ever cover contiguous offsets, so the position must go back here.
                if not self._stopping:
                    self.consumer.seek(tp, msg.offset)
                return i
            try:
                row = self._process(msg, key)
            except DeadLetterError as exc:
                # Not queued (Kafka unreachable): its bytes are not kept, so the partition's
                # open batch is dropped and the range read again after the retry.
                self._dead_letter_failed(key, exc, resume_at=msg.offset)
                return i + 1
            verdict = self.guard.record(key, row is None)
            if verdict.tripped:
                self._trip(
                    DlqGuardTripped(
                        tp.topic, tp.partition, msg.offset, verdict.dead, verdict.window
                    )
                )
                return i + 1
            self.batcher.add(tp.topic, tp.partition, msg.offset, row)
            self._positions[key] = msg.offset + 1
            if self.batcher.is_full(key) and not self._flush([key]):
                # Kept for retry: fetch again from just after it. Dropped (DLQ failure): the
                # flush already went back to the batch's first offset.
                kept = self._pending is not None or self.batcher.get(key) is not None
                if kept and i + 1 < len(messages):
                    self.consumer.seek(tp, messages[i + 1].offset)
                return i + 1
        return len(messages)

    def _process(self, msg: Any, key: PartitionKey) -> Row | None:
        where = KafkaCoordinates(msg.topic, msg.partition, msg.offset)
        now_ms = self.wall_ms()
        try:
            return self.processor.process(
                msg.value, where, now_ms=now_ms, ingested_at_s=now_ms // 1000
            )
        except InvalidEvent as exc:
            letter = self.dlq.send(msg.key, msg.value or b"", exc.reason, exc.detail, where)
            self._dead.setdefault(key, []).append(letter)
            self.metrics.increment(
                "vh_ingest_events_dead_lettered_total", labels={"reason": exc.reason}
            )
            logger.info(
                "dead letter",
                extra={
                    "reason": exc.reason,
                    "topic": msg.topic,
                    "partition": msg.partition,
                    "offset": msg.offset,
                },
            )
            return None

    def _trip(self, exc: DlqGuardTripped) -> None:
        logger.critical("%s", exc, extra={"alert": "dlq_guard", "partition": exc.partition})
        self.metrics.gauge("vh_ingest_dlq_guard_tripped", 1, {"partition": str(exc.partition)})
        # The tripping partition's batch is dropped, not stored: nothing past the offending
        # messages is committed, so a fixed worker (or a deliberate drain) starts there.
        key = (exc.topic, exc.partition)
        self.batcher.take(key)
        self._dead.pop(key, None)
        self._exit_code = EXIT_DLQ_GUARD
        self._stopping = True

    def _dead_letter_failed(
        self, key: PartitionKey, exc: DeadLetterError, resume_at: int | None = None
    ) -> None:
        """A dead letter of ``key`` was refused or not confirmed: drop the partition's open
        batch (its letters' bytes are gone, so the range is read again), back off, and stop
        for good once the same letter failed ``dlq_max_attempts`` times.

        Every attempt at a letter after the first follows a fresh fetch of its message (the
        batch was dropped and the partition rewound), so while Kafka is away no attempt is
        made and none is counted: an outage of any length is waited out.
        """
        batch = self.batcher.take(key)
        self._dead.pop(key, None)
        self.guard.forget(key)
        first = batch.first_offset if batch is not None else resume_at
        if first is not None:
            self._seek(key, first)
        self.metrics.increment("vh_ingest_dlq_failures_total")
        if exc.source is not None:
            attempts = self._dlq_attempts.get(exc.source, 0) + 1
            self._dlq_attempts[exc.source] = attempts
            if attempts >= self.dlq_max_attempts:
                fatal = DeadLetterQueueUnwritable(self.dlq.topic, exc.source, attempts, str(exc))
                logger.critical("%s", fatal, extra={"alert": "dlq_unwritable"})
                self.metrics.gauge("vh_ingest_dlq_unwritable", 1)
                self._exit_code = EXIT_DLQ_UNWRITABLE
                self._stopping = True
                return
        self._failed(exc)

    def _forget_dead_letter_failures(self, key: PartitionKey) -> None:
        for source in [s for s in self._dlq_attempts if (s.topic, s.partition) == key]:
            del self._dlq_attempts[source]

    # -- per batch --------------------------------------------------------------------------

    def _flush(self, keys: Sequence[PartitionKey]) -> bool:
        """Store, then commit, these partitions' batches as ONE insert. False on failure.

        ClickHouse prefers few large inserts: each insert writes a part per month touched, in
        ``visits`` and in every table its materialized views feed. Inserting the batches due
        together as one block (rather than one per Kafka partition) cut ClickHouse's CPU per
        event by a fifth, 14.0 to 11.4 µs (docs/benchmarks.md). A group that fails to insert
        is kept (``_pending``) and retried as it is before anything else.
        """
        batches = []
        for key in keys:
            batch = self.batcher.get(key)
            if batch is None:
                continue
            try:
                self.dlq.confirm(self._dead.get(key, []))
            except DeadLetterError as exc:
                # Unconfirmed dead letters cannot be re-sent from here (their bytes are gone):
                # drop the batch and read the range again.
                self._dead_letter_failed(key, exc)
                return False
            self._dead.pop(key, None)
            self._forget_dead_letter_failures(key)
            batches.append(batch)
        if not batches:
            return True
        batches.sort(key=lambda b: b.key)
        try:
            self.erasures.refresh_if_due()
        except ClickHouseUnavailable as exc:
            self._failed(exc)  # the batches stay open, and are flushed on the retry
            return False
        rows: list[Row] = []
        erased = 0
        for batch in batches:
            self.batcher.take(batch.key)
            kept, dropped = self.erasures.keep(batch.rows)
            rows.extend(kept)
            erased += dropped
        token = "|".join(b.dedup_token(self._incarnation(b.topic)) for b in batches)
        return self._insert(_InsertGroup(batches, rows, token, erased))

    def _incarnation(self, topic: str) -> str | None:
        try:
            return topic_id(self.consumer, topic)
        except Exception:  # no metadata (a test double): the name alone
            return None

    def _insert(self, group: _InsertGroup) -> bool:
        """Insert a formed group; on success stage its offsets (ours only) and commit."""
        started = self.clock()
        try:
            self.writer.insert_visits(group.rows, group.token)
        except ClickHouseUnavailable as exc:
            self._pending = group
            self._failed(exc)
            return False
        self._pending = None
        self.metrics.timing("vh_ingest_insert_seconds", self.clock() - started)
        self.metrics.timing("vh_ingest_batch_rows", len(group.rows))
        self.metrics.increment("vh_ingest_events_stored_total", len(group.rows))
        self.metrics.increment("vh_ingest_events_erased_total", group.erased)
        for batch in group.batches:
            if batch.key not in group.detached:
                self._uncommitted[batch.key] = batch.commit_offset
        self._commit()
        return True

    def _commit(self) -> None:
        """Commit every stored-but-uncommitted offset. A refused commit (say, during a
        rebalance) is retried on the next loop turn: the rows are stored, and an idle
        partition would otherwise never commit them and redeliver them after a restart."""
        if not self._uncommitted:
            return
        try:
            commit_offsets(self.consumer, self._uncommitted)
        except Exception as exc:
            logger.warning(
                "commit failed (%s); retrying",
                str(exc),  # not the exception: a kept record would pin its traceback
                extra={
                    "offsets": {f"{t}[{p}]": o for (t, p), o in self._uncommitted.items()},
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            return
        self._uncommitted.clear()

    def _failed(self, exc: Exception) -> None:
        self.metrics.increment("vh_ingest_insert_failures_total")
        delay = self.backoff.next_delay()
        self._retry_at = self.clock() + delay
        if not self.degraded:
            self.degraded = True
            self.consumer.pause(*self.consumer.assignment())
            self.metrics.gauge("vh_ingest_paused", 1)
        logger.error(
            "batch not stored, partitions paused; retrying",
            extra={
                "error": str(exc),
                "retry_in_s": round(delay, 3),
                "attempt": self.backoff.failures,
            },
        )

    def _flush_due(self) -> None:
        due = self.batcher.due()
        if due:
            self._flush(due)

    def _retry_if_due(self) -> None:
        if self.clock() < self._retry_at:
            return
        # The failed group first, as it was (same rows, same token), then whatever is open.
        if self._pending is not None and not self._insert(self._pending):
            return
        if not self._flush(list(self.batcher.open_partitions())):
            return
        self.degraded = False
        self.backoff.reset()
        self.consumer.resume(*self.consumer.assignment())
        self.metrics.gauge("vh_ingest_paused", 0)
        logger.info("batches stored again, partitions resumed")

    def _flush_all(self) -> None:
        """Shutdown: one attempt per open batch; what fails stays uncommitted (redelivered)."""
        self.degraded = False
        stored = self._pending is None or self._insert(self._pending)
        if not (stored and self._flush(list(self.batcher.open_partitions()))):
            logger.warning(
                "shutdown with unstored batches; they will be redelivered",
                extra={"rows": self.batcher.rows_pending()},
            )

    def revoke(self, revoked: Sequence[Any]) -> None:
        """Rebalance: drop in-flight batches of revoked partitions, uncommitted.

        kafka-python 3 runs this on its IO thread, where blocking calls (a synchronous commit,
        a ClickHouse insert holding up heartbeats) are refused or risky; so nothing is
        flushed here. It is not concurrent with the loop: listeners are only invoked from the
        group join (and ``close()``), which the worker thread drives from inside ``poll()``
        and waits for (``NetworkSelector.run`` blocks the caller until the coroutine on the IO
        thread returns), so the batcher and the maps here are never touched by two threads
        at once. The dropped ranges are re-read by whoever owns the partition next and
        storage deduplicates them: at most one batch per partition per rebalance. The seek
        matters when the partition comes back to us: kafka-python keeps its position across
        the rebalance, which would otherwise skip the dropped range. Offsets already stored
        but not yet committed go out with a non-blocking commit, which the broker handles
        before our rejoin (same connection, in order). A revoked partition's batch inside the
        failed group stays in it (see ``_InsertGroup``), detached.
        """
        stored = {}
        pending = {} if self._pending is None else {b.key: b for b in self._pending.batches}
        for tp in revoked:
            key = (tp.topic, tp.partition)
            batch = self.batcher.take(key)
            if key in pending and self._pending is not None:
                self._pending.detached.add(key)
                batch = pending[key]
            if batch is not None:
                self._seek(key, batch.first_offset)
            if key in self._uncommitted:
                stored[key] = self._uncommitted.pop(key)
            self._dead.pop(key, None)
            self._forget_dead_letter_failures(key)
            self._positions.pop(key, None)
            self.guard.forget(key)
        if stored:
            commit_offsets(self.consumer, stored, wait=False)

    def assigned(self, assigned: Sequence[Any]) -> None:
        if self.degraded and assigned:
            self.consumer.pause(*assigned)

    def _seek(self, key: PartitionKey, offset: int) -> None:
        try:
            self.consumer.seek(TopicPartition(*key), offset)
        except Exception as exc:
            logger.warning("seek failed", extra={"partition": key[1], "error": str(exc)})

    def _report_lag(self) -> None:
        now = self.clock()
        if now - self._lag_at < _LAG_EVERY_S:
            return
        self._lag_at = now
        for (topic, partition), position in list(self._positions.items()):
            try:
                end = self.consumer.highwater(TopicPartition(topic, partition))
            except KafkaError:  # no longer assigned: reported by its next owner
                continue
            if end is not None:
                self.metrics.gauge(
                    "vh_ingest_consumer_lag", max(end - position, 0), {"partition": str(partition)}
                )


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[Any]) -> None:
        self.worker.revoke(revoked)

    def on_partitions_assigned(self, assigned: Sequence[Any]) -> None:
        self.worker.assigned(assigned)
