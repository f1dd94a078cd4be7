"""How the worker reacts when storing fails: pause and retry, drop and rewind, or stop.

- ClickHouse failing (:meth:`Recovery.store_failed`): every assigned partition is paused (no
  more fetching, so memory stays bounded by one batch per partition) and the failed block is
  retried after a jittered backoff; :meth:`Recovery.recovered` resumes them.
- A dead letter not taken (:meth:`Recovery.letter_refused`): its partition's open batch is
  dropped (the letters' bytes are gone) and the partition rewound, then as above. Every later
  attempt at that letter follows a fresh fetch of its message, so while Kafka is away no
  attempt is made and none is counted: an outage of any length is waited out. The same letter
  failing ``dlq_max_attempts`` times means the DLQ topic refuses it: stop, exit code 4.
- Stored visits the enriched stream did not acknowledge (:meth:`Recovery.publish_failed`):
  as a refused dead letter, their batches are dropped and their partitions rewound, then as
  above; the insert repeats idempotently. Never a stop: a Kafka outage is waited out.
- Most recent messages dead letters (:meth:`Recovery.tripped`): stop, exit code 3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from ingest.backoff import Backoff
from ingest.batching import PartitionKey
from ingest.errors import DeadLetterError, DeadLetterQueueUnwritable, DlqGuardTripped
from ingest.metrics import Metrics
from ingest.partitions import Partitions

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_DLQ_GUARD, EXIT_DLQ_UNWRITABLE = 0, 3, 4


class Control(Protocol):
    """What the strategy may ask of the consumer (``ingest.worker.ConsumerControl``)."""

    def seek(self, key: PartitionKey, offset: int) -> None: ...

    def pause_all(self) -> None: ...

    def resume_all(self) -> None: ...

    def commit(self, offsets: dict[PartitionKey, int]) -> None:
        """Synchronous; raises when the group coordinator refuses."""


class Recovery:
    """Failure state of one worker: degraded (paused, retrying) or stopping, and why."""

    def __init__(
        self,
        *,
        control: Control,
        partitions: Partitions,
        backoff: Backoff,
        metrics: Metrics,
        clock: Callable[[], float],
        dlq_topic: str,
        dlq_max_attempts: int,
    ) -> None:
        self.control, self.partitions, self.backoff = control, partitions, backoff
        self.metrics, self.clock = metrics, clock
        self.dlq_topic, self.dlq_max_attempts = dlq_topic, dlq_max_attempts
        self.stopping = False
        self.exit_code = EXIT_OK
        self.degraded = False  # a store failed: partitions paused until the retry succeeds
        self.retry_at = 0.0

    def stop_with(self, code: int) -> None:
        self.exit_code = code
        self.stopping = True

    def store_failed(self, exc: Exception) -> None:
        """Back off; pause every partition (once) until :meth:`recovered`."""
        self.metrics.increment("vh_ingest_insert_failures_total")
        self._pause(exc, "batch not stored")

    def _pause(self, exc: Exception, what: str) -> None:
        delay = self.backoff.next_delay()
        self.retry_at = self.clock() + delay
        if not self.degraded:
            self.degraded = True
            self.control.pause_all()
            self.metrics.gauge("vh_ingest_paused", 1)
        logger.error(
            "%s, partitions paused; retrying",
            what,
            extra={"error": str(exc), "retry_in_s": round(delay, 3),
                   "attempt": self.backoff.failures},
        )  # fmt: skip

    def publish_failed(self, firsts: dict[PartitionKey, int], exc: Exception) -> None:
        """Rewind each partition of a stored-but-unpublished group to its batch's first
        offset (dropping what it holds after it), then back off as for a failed insert."""
        for key, first in firsts.items():
            self.partitions.drop(key)
            self.control.seek(key, first)
        self.metrics.increment("vh_ingest_enriched_failures_total")
        self._pause(exc, "stored visits not published to the enriched stream")

    def recovered(self) -> None:
        self.degraded = False
        self.backoff.reset()
        self.control.resume_all()
        self.metrics.gauge("vh_ingest_paused", 0)
        logger.info("batches stored again, partitions resumed")

    def letter_refused(
        self, key: PartitionKey, exc: DeadLetterError, rewind_to: int | None = None
    ) -> None:
        """Drop the partition's open batch and rewind it (to the batch's first offset, else
        ``rewind_to``); back off, or stop once the same letter failed too often."""
        first = self.partitions.drop(key)
        if first is None:
            first = rewind_to
        if first is not None:
            self.control.seek(key, first)
        self.metrics.increment("vh_ingest_dlq_failures_total")
        source = exc.source
        if source is not None:
            part = self.partitions[key]
            attempts = part.refusals[source.offset] = part.refusals.get(source.offset, 0) + 1
            if attempts >= self.dlq_max_attempts:
                fatal = DeadLetterQueueUnwritable(self.dlq_topic, source, attempts, str(exc))
                logger.critical("%s", fatal, extra={"alert": "dlq_unwritable"})
                self.metrics.gauge("vh_ingest_dlq_unwritable", 1)
                self.stop_with(EXIT_DLQ_UNWRITABLE)
                return
        self.store_failed(exc)

    def tripped(self, exc: DlqGuardTripped) -> None:
        """The dead-letter cap: drop the partition's batch, uncommitted (a fixed worker, or a
        deliberate drain, starts at the offending messages), and stop."""
        logger.critical("%s", exc, extra={"alert": "dlq_guard", "partition": exc.partition})
        self.metrics.gauge("vh_ingest_dlq_guard_tripped", 1, {"partition": str(exc.partition)})
        self.partitions.drop((exc.topic, exc.partition))
        self.stop_with(EXIT_DLQ_GUARD)
