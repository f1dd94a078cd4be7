"""The enriched stream refusing its events (Kafka away): the stored block is not committed,
its range is read and stored again, and once Kafka takes the events the offsets commit.
Scripted consumer (tests/ingest/test_dlq_failures.py's log that honours seek), fake clock;
the real broker's side is tests/query_api/test_enriched_stream.py."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.assembly import assemble
from ingest.backoff import Backoff
from ingest.batching import BatchPolicy
from ingest.dlq_guard import DlqGuard
from ingest.errors import EnrichedStreamError
from ingest.flow import EXIT_OK
from ingest.metrics import RecordingMetrics
from ingest.rows import Row
from tests.ingest.test_dlq_failures import (
    TOPIC,
    Erasures,
    LogConsumer,
    Processor,
    RefusingDlq,
    Writer,
)


class FlakyStream:
    """Refuses the first ``refusals`` blocks (as a producer whose flush timed out)."""

    def __init__(self, refusals: int, writer: Writer) -> None:
        self.refusals, self.writer = refusals, writer
        self.published: list[Row] = []
        self.stored_when_refused: list[int] = []

    def publish(self, rows: Sequence[Row]) -> int:
        if self.refusals > 0:
            self.refusals -= 1
            self.stored_when_refused.append(len(self.writer.rows))
            raise EnrichedStreamError("KafkaTimeoutError: flush timed out")
        self.published += rows
        return len(rows)


def test_an_unpublished_block_is_never_committed_and_is_stored_and_published_again() -> None:
    consumer = LogConsumer([b"a", b"b", b"c"], polls=40)
    writer = Writer()
    stream = FlakyStream(3, writer)
    metrics = RecordingMetrics()
    worker = assemble(
        consumer=consumer,
        topic=TOPIC,
        writer=writer,
        dlq=RefusingDlq(),
        processor=Processor(),  # type: ignore[arg-type]
        erasures=Erasures(),
        guard=DlqGuard(1.0, 1000),
        policy=BatchPolicy(1000, 0.5, lambda: consumer.now),
        backoff=Backoff(0.5, 0.5),
        metrics=metrics,
        clock=lambda: consumer.now,
        sleep=lambda s: None,
        enriched=stream,
    )
    consumer.worker = worker
    commits_while_refused: list[int] = []
    original = stream.publish

    def publish(rows: Sequence[Row]) -> int:
        if stream.refusals > 0:
            commits_while_refused.append(len(consumer.commits))
        return original(rows)

    stream.publish = publish  # type: ignore[method-assign]
    assert worker.run() == EXIT_OK
    # Each refusal: inserted (ClickHouse acknowledged), not committed, read again.
    assert stream.stored_when_refused == [3, 6, 9]
    assert commits_while_refused == [0, 0, 0]
    assert writer.rows == [(0,), (1,), (2,)] * 4  # the same rows: idempotent downstream
    assert stream.published == [(0,), (1,), (2,)]
    assert consumer.commits == [3]
    assert metrics.counter("vh_ingest_enriched_failures_total") == 3
    assert metrics.counter("vh_ingest_events_published_total") == 3
