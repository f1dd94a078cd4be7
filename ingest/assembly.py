"""Builds a :class:`~ingest.worker.Worker` from configuration and owns its resources.

:func:`open_worker` opens what the worker needs (ClickHouse, Kafka, GeoIP), checks it, and
hands the pieces to :func:`assemble`, which only wires constructors together; tests call
:func:`assemble` with doubles of the edges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from enrich.config import EnrichConfig
from enrich.enricher import Enricher
from ingest import memory, statements
from ingest.backoff import Backoff
from ingest.batching import BatchPolicy
from ingest.config import IngestConfig
from ingest.dlq import DEFAULT_MAX_MESSAGE_BYTES, DeadLetterQueue, TopicState, check_topic
from ingest.dlq_guard import DlqGuard
from ingest.enriched import EnrichedStream
from ingest.erasures import ErasureView
from ingest.errors import ClickHouseUnavailable
from ingest.flow import Flow
from ingest.kafka_clients import (
    describe_topic,
    make_consumer,
    make_producer,
    record_size,
    topic_id,
)
from ingest.metrics import Metrics, NoMetrics
from ingest.partitions import Partitions
from ingest.processor import Enrich, NoEnrichment, VisitProcessor
from ingest.purge import SlipPurge
from ingest.recovery import Recovery
from ingest.retention import RetentionSchedule
from ingest.startup import NotReady, Unreachable, until_ready
from ingest.store import Erasures, Letters, Publisher, Store, Writer
from ingest.worker import ConsumerControl, Worker
from ingest.writer import ClickHouseWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A send to a topic whose metadata is missing blocks this long (kafka-python's default is
# 60 s per send); the start-up check makes a missing topic an error long before.
_DLQ_MAX_BLOCK_MS = 10_000


def check_clickhouse(writer: ClickHouseWriter) -> None:
    """Raise :class:`NotReady` unless ClickHouse answers and ``visits`` exists
    (:class:`Unreachable` when it does not answer)."""
    try:
        writer.features()
        found = writer.run(statements.table_exists(writer.layout, "visits"))
    except ClickHouseUnavailable as exc:
        raise Unreachable(
            f"ClickHouse at {writer.endpoint} is not reachable: run `make up` ({exc.cause})"
        ) from exc
    if not found or not found[0][0]:
        raise NotReady(
            f"database {writer.database!r} at {writer.endpoint} has no visits "
            "table: run `vh migrate`"
        )


def assemble(
    *,
    consumer: Any,
    topic: str,
    writer: Writer,
    dlq: DeadLetterQueue | Letters,
    processor: VisitProcessor,
    erasures: Erasures,
    guard: DlqGuard,
    policy: BatchPolicy,
    backoff: Backoff,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    housekeeping: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
    dlq_max_attempts: int = 10,
    enriched: Publisher | None = None,
) -> Worker:
    """Wire a worker from its parts (no I/O of its own)."""
    metrics = metrics or NoMetrics()

    def incarnation(name: str) -> str | None:
        try:
            return topic_id(consumer, name)
        except Exception:  # a consumer double without metadata: the name alone
            return None

    control = ConsumerControl(consumer)
    partitions = Partitions(guard.new_window)
    flow = Flow(
        control=control,
        processor=processor,
        dlq=dlq,  # type: ignore[arg-type]
        store=Store(writer, dlq, erasures, incarnation, clock, enriched),
        policy=policy,
        guard=guard,
        recovery=Recovery(
            control=control,
            partitions=partitions,
            backoff=backoff,
            metrics=metrics,
            clock=clock,
            dlq_topic=getattr(dlq, "topic", "?"),
            dlq_max_attempts=dlq_max_attempts,
        ),
        partitions=partitions,
        metrics=metrics,
        wall_ms=wall_ms,
    )
    return Worker(
        consumer=consumer,
        topic=topic,
        flow=flow,
        # Separate from ``backoff`` (inserts): Kafka and ClickHouse fail independently.
        kafka_backoff=Backoff(backoff.initial_s, backoff.max_s),
        metrics=metrics,
        clock=clock,
        housekeeping=housekeeping,
        sleep=sleep,
    )


@contextmanager
def open_worker(config: IngestConfig, enrich: EnrichConfig, metrics: Metrics) -> Iterator[Worker]:
    """A ready worker; its ClickHouse connection, producer and GeoIP reader close on exit.

    A service that does not answer is tried again until ``VH_STARTUP_TIMEOUT_SECONDS``
    after the start (``ingest.startup``): one deadline for all the checks.

    Raises:
        NotReady: ClickHouse or Kafka still unreachable at the deadline, the schema not
            migrated, or the DLQ topic unable to take letters (missing, not writable, too
            small).
        GeoIpDatabaseError: the configured GeoIP database is unusable.
    """
    deadline = time.monotonic() + config.startup_timeout_seconds

    def ready(attempt: Callable[[], T]) -> T:
        return until_ready(
            attempt,
            deadline=deadline,
            backoff=Backoff(0.2, 5.0),
            clock=time.monotonic,
            sleep=time.sleep,
        )

    with ExitStack() as stack:
        writer = stack.enter_context(ClickHouseWriter.from_config(config))
        ready(lambda: check_clickhouse(writer))
        enricher: Enrich = (
            stack.enter_context(Enricher.from_config(enrich)) if enrich.enabled else NoEnrichment()
        )
        producer, consumer, dlq_state = ready(lambda: _kafka_clients(config))
        stack.callback(producer.close)
        # The worker closes it when it stops; this is for a start-up refused from here on
        # (closing twice is a no-op).
        stack.callback(consumer.close, autocommit=False)
        enriched = None
        if config.enriched.enabled:
            enriched = ready(lambda: _enriched_stream(config))
            stack.callback(enriched.producer.close)
        # A DLQ that can never take a letter would stall its partitions later: refuse now.
        problem = check_topic(config.dlq_topic, dlq_state, config.kafka_bootstrap)
        if problem is not None:
            raise NotReady(problem)
        dlq = DeadLetterQueue(
            producer,
            config.dlq_topic,
            max_record_bytes=dlq_state.max_record_bytes or DEFAULT_MAX_MESSAGE_BYTES,
            record_size=record_size,
        )
        clock = time.monotonic
        erasures = ErasureView(
            lambda: writer.execute(statements.erasures(writer.layout)),
            config.erasure_refresh_seconds,
            clock,
            lambda: time.time_ns() // 1_000_000,
        )
        retention = RetentionSchedule(
            writer,
            config.retention_days,
            config.retention_check_seconds,
            clock,
            lambda: datetime.now(UTC),
        )
        purge = SlipPurge(
            writer.run,
            writer.layout,
            erasures,
            max(config.erasure_refresh_seconds, 1.0),
            clock,
            metrics,
        )

        trimmer = memory.Trimmer(60.0, clock)

        def housekeeping() -> None:
            retention.tick()
            purge.tick()
            trimmer.tick()

        yield assemble(
            consumer=consumer,
            topic=config.topic,
            writer=writer,
            dlq=dlq,
            processor=VisitProcessor(enricher, millisecond_time=writer.features().modern_types),
            erasures=erasures,
            guard=DlqGuard(config.dlq_max_ratio, config.dlq_window),
            policy=BatchPolicy(config.batch_max_rows, config.batch_max_seconds, clock),
            backoff=Backoff(config.retry_initial_seconds, config.retry_max_seconds),
            metrics=metrics,
            clock=clock,
            housekeeping=housekeeping,
            dlq_max_attempts=config.dlq_max_attempts,
            enriched=enriched,
        )


def _kafka_clients(config: IngestConfig) -> tuple[Any, Any, TopicState]:
    """The dead letters' producer, the group consumer and the DLQ topic's state; on a
    failure, what was opened is closed (a retry opens its own).

    Raises:
        Unreachable: Kafka did not answer.
    """
    with ExitStack() as opened:
        try:
            producer = make_producer(
                config, client_id="vh-ingest-dlq", max_block_ms=_DLQ_MAX_BLOCK_MS
            )
            opened.callback(producer.close)
            consumer = make_consumer(config)
            opened.callback(consumer.close, autocommit=False)
            state = describe_topic(config.kafka_bootstrap, config.dlq_topic)
        except Exception as exc:
            raise _kafka_unreachable(config, exc) from exc
        opened.pop_all()
    return producer, consumer, state


def _kafka_unreachable(config: IngestConfig, exc: Exception) -> Unreachable:
    return Unreachable(
        f"Kafka at {config.kafka_bootstrap} is not reachable: run `make up` "
        f"({type(exc).__name__}: {exc})"
    )


def _enriched_stream(config: IngestConfig) -> EnrichedStream:
    """The enriched stream's own producer: its flush then waits for its records only (the
    dead letters' confirmation flushes the other), and it batches for throughput.

    Raises:
        Unreachable: Kafka did not answer.
        NotReady: this worker may not write to the topic.
    """
    topic = config.enriched.topic
    producer = None
    try:
        producer = make_producer(
            config,
            client_id="vh-ingest-enriched",
            max_block_ms=_DLQ_MAX_BLOCK_MS,
            batch_size=256 * 1024,
            linger_ms=5,
        )
        state = describe_topic(config.kafka_bootstrap, topic)
    except Exception as exc:
        if producer is not None:
            producer.close()
        raise _kafka_unreachable(config, exc) from exc
    if state.exists and "WRITE" not in state.operations:
        producer.close()
        raise NotReady(
            f"this worker may not write to the enriched topic {topic!r}: grant it WRITE, "
            "or set VH_ENRICHED_STREAM=off"
        )
    if not state.exists:
        # Left to the broker's auto-creation (the local stack's default); `vh run` creates it.
        logger.warning("enriched topic %r does not exist yet", topic)
    return EnrichedStream(producer, topic)
