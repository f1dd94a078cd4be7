"""The consumer loop: poll -> the strategy (``ingest.flow``) -> commits, until told to stop.

The loop owns the consumer: it subscribes, polls, rides out Kafka failures, relays
rebalances to the strategy, reports lag and runs housekeeping. Everything done with the
messages (processing, batching, storing, committing) is the strategy's, which reaches the
consumer only through :class:`ConsumerControl`.

Order of effects for one partition batch (offsets ``first..last``): its dead letters are
acknowledged by Kafka, the rows are inserted and ClickHouse acknowledges, then ``last + 1``
is committed. A crash anywhere before the commit redelivers the whole range, which storage
deduplicates (ReplacingMergeTree, insert token, ``LIMIT 1 BY`` on reads).

Kafka failing (a broker restarting): ``poll()`` raising is logged with its traceback and
retried after a jittered backoff; open batches, positions and pending commits are kept, and
nothing is committed that ClickHouse has not acknowledged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ingest import memory
from ingest.backoff import Backoff
from ingest.batching import PartitionKey
from ingest.flow import Flow
from ingest.kafka_clients import (
    ConsumerRebalanceListener,
    KafkaError,
    TopicPartition,
    commit_offsets,
    wait_for_partitions,
)
from ingest.metrics import Metrics

logger = logging.getLogger(__name__)

_LAG_EVERY_S = 5.0
# Longest poll() while nothing waits for a deadline: bounds how late stop(), housekeeping and
# lag reports run. Long enough that a group join usually completes inside one poll (see
# kafka_clients._keep_completed_joins for what happens when it does not).
_IDLE_POLL_S = 1.0
_MIN_POLL_MS = 10


class ConsumerControl:
    """The strategy's handle on the consumer (``flow.Control``)."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def seek(self, key: PartitionKey, offset: int) -> None:
        try:
            self.consumer.seek(TopicPartition(*key), offset)
        except Exception as exc:  # no longer assigned: its next owner reads from the commit
            logger.warning("seek failed", extra={"partition": key[1], "error": str(exc)})

    def pause_all(self) -> None:
        self.consumer.pause(*self.consumer.assignment())

    def resume_all(self) -> None:
        self.consumer.resume(*self.consumer.assignment())

    def commit(self, offsets: dict[PartitionKey, int]) -> None:
        commit_offsets(self.consumer, offsets)


class Worker:
    """One consumer-group member. Not thread-safe, except :meth:`stop`.

    Args:
        consumer: an unsubscribed KafkaConsumer (``kafka_clients.make_consumer``); owned.
        topic: the raw-visit topic.
        flow: the strategy, built on ``ConsumerControl(consumer)``.
        kafka_backoff: delays between retries of a failing poll.
        metrics: where lag goes.
        clock: monotonic seconds.
        housekeeping: called every loop turn while stores succeed (retention, erasure
            purges: the purge must follow every insert made with an older erasure snapshot,
            so not while a failed block waits); must not raise.
        sleep: real-time sleep between retries of a failing Kafka call.
    """

    def __init__(
        self,
        *,
        consumer: Any,
        topic: str,
        flow: Flow,
        kafka_backoff: Backoff,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
        housekeeping: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.consumer, self.topic, self.flow = consumer, topic, flow
        self._kafka_backoff, self.metrics = kafka_backoff, metrics
        self.clock, self.housekeeping, self._sleep = clock, housekeeping, sleep
        self._lag_at = 0.0

    @property
    def degraded(self) -> bool:
        return self.flow.degraded

    def stop(self) -> None:
        """Ask the loop to flush, commit and return (safe from a signal handler)."""
        self.flow.stop()

    def run(self) -> int:
        """Consume until :meth:`stop`, the dead-letter cap or a DLQ that refuses letters;
        return the exit code (``flow.EXIT_*``)."""
        self.consumer.subscribe([self.topic], listener=_Listener(self))
        # Fresh metadata after subscribing and before joining, or the group leader assigns
        # from a stale view and rebalances again right after the first join (see
        # wait_for_partitions): the batch read meanwhile would be read twice.
        if not wait_for_partitions(self.consumer, self.topic):
            logger.warning(
                "topic has no partitions yet; joining anyway", extra={"topic": self.topic}
            )
        try:
            while not self.flow.stopping:
                for tp, messages in self._poll().items():
                    self.flow.submit(tp.topic, tp.partition, messages)
                self.flow.tick(self.clock())
                self.flow.commit()
                self._report_lag()
                if not self.flow.degraded:
                    self.housekeeping()
            self.flow.drain()
        finally:
            try:
                self.consumer.close(autocommit=False)
            except KafkaError:
                # Leaving the group failed (broker down): its session expires instead.
                logger.warning("consumer close failed", exc_info=True)
        logger.info("worker stopped", extra={"exit_code": self.flow.exit_code})
        return self.flow.exit_code

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
        """Wait in poll() until the strategy's next deadline (a batch due by age, a retry),
        at most ``_IDLE_POLL_S``. A short fixed timeout would also cut group joins short
        (kafka-python awaits a join only for the poll timeout)."""
        due = self.flow.seconds_until_due(self.clock())
        wait = _IDLE_POLL_S if due is None else min(_IDLE_POLL_S, due)
        return max(int(wait * 1000), _MIN_POLL_MS)

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, returning early once :meth:`stop` was called."""
        deadline = self.clock() + seconds
        while not self.flow.stopping and self.clock() < deadline:
            self._sleep(min(0.1, max(deadline - self.clock(), 0.0)))

    def revoke(self, revoked: Sequence[Any]) -> None:
        """Rebalance: the strategy drops revoked partitions' in-flight batches, uncommitted.

        kafka-python 3 runs this on its IO thread, where blocking calls (a synchronous commit,
        a ClickHouse insert holding up heartbeats) are refused or risky; so nothing is
        flushed here. It is not concurrent with the loop: listeners are only invoked from the
        group join (and ``close()``), which the worker thread drives from inside ``poll()``
        and waits for (``NetworkSelector.run`` blocks the caller until the coroutine on the IO
        thread returns), so the strategy's state is never touched by two threads at once.
        The dropped ranges are re-read by whoever owns the partition next and storage
        deduplicates them: at most one batch per partition per rebalance. Offsets already
        stored but not yet committed go out with a non-blocking commit, which the broker
        handles before our rejoin (same connection, in order).
        """
        stored = self.flow.revoked([(tp.topic, tp.partition) for tp in revoked])
        if stored:
            commit_offsets(self.consumer, stored, wait=False)

    def assigned(self, assigned: Sequence[Any]) -> None:
        if self.flow.degraded and assigned:
            self.consumer.pause(*assigned)

    def _report_lag(self) -> None:
        now = self.clock()
        if now - self._lag_at < _LAG_EVERY_S:
            return
        self._lag_at = now
        # Beside the lag, where memory goes (leak versus allocator high-water: docs/soak.md).
        for name, value in memory.readings().items():
            self.metrics.gauge(f"vh_ingest_{name}", value)
        for part in self.flow.partitions:
            if part.position is None:
                continue
            try:
                end = self.consumer.highwater(TopicPartition(*part.key))
            except KafkaError:  # no longer assigned: reported by its next owner
                continue
            if end is not None:
                self.metrics.gauge(
                    "vh_ingest_consumer_lag",
                    max(end - part.position, 0),
                    {"partition": str(part.key[1])},
                )


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: Sequence[Any]) -> None:
        self.worker.revoke(revoked)

    def on_partitions_assigned(self, assigned: Sequence[Any]) -> None:
        self.worker.assigned(assigned)
