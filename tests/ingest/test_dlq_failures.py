"""A dead-letter topic that refuses letters: waited out while Kafka is away (no attempt can be
made), a stop with exit code 4 once the same letter failed ``dlq_max_attempts`` times with
Kafka serving its partition. Scripted consumer (a log that honours seek), fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ingest.assembly import assemble
from ingest.backoff import Backoff
from ingest.batching import BatchPolicy
from ingest.dlq import PendingLetter
from ingest.dlq_guard import DlqGuard
from ingest.errors import DeadLetterError
from ingest.flow import EXIT_DLQ_UNWRITABLE, EXIT_OK
from ingest.metrics import RecordingMetrics
from ingest.rows import KafkaCoordinates, Row
from ingest.worker import Worker
from schemas.raw_event import InvalidEvent

TOPIC = "raw"
TP = TopicPartition(TOPIC, 0)
BAD = b"not json"


class LogConsumer:
    """One partition holding ``values``; poll() returns from the position on (seek moves it),
    or nothing while ``outage`` polls remain. Stops the worker after ``polls`` polls."""

    def __init__(self, values: list[bytes], polls: int, outage: range = range(0)) -> None:
        self.values, self.position, self.polls_left = values, 0, polls
        self.outage, self.polls = outage, 0
        self.worker: Worker | None = None
        self.commits: list[int] = []
        self.now = 0.0

    def subscribe(self, topics: list[str], listener: Any) -> None: ...

    def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def assignment(self) -> set[Any]:
        return {TP}

    def pause(self, *tps: Any) -> None: ...

    def resume(self, *tps: Any) -> None: ...

    def highwater(self, tp: Any) -> int:
        return len(self.values)

    def seek(self, tp: Any, offset: int) -> None:
        self.position = offset

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits += [meta.offset for meta in offsets.values()]

    def poll(self, timeout_ms: int) -> dict[Any, list[Any]]:
        self.now += 1.0
        self.polls += 1
        self.polls_left -= 1
        if self.polls_left <= 0:
            assert self.worker is not None
            self.worker.stop()
            return {}
        if self.polls in self.outage or self.position >= len(self.values):
            return {}
        records = [
            ConsumerRecord(TOPIC, 0, None, o, 0, 0, None, v, [], None, 0, len(v), -1)
            for o, v in enumerate(self.values)
        ][self.position :]
        self.position = len(self.values)
        return {TP: records}

    def close(self, autocommit: bool) -> None: ...


class Processor:
    def process(
        self, value: bytes | None, where: KafkaCoordinates, *, now_ms: int, ingested_at_s: int
    ) -> Row:
        if value == BAD:
            raise InvalidEvent("not_json", "not JSON")
        return (where.offset,)


class RefusingDlq:
    """Every letter is refused when confirmed, as by a topic that lost its write permission."""

    topic = "dlq"

    def __init__(self) -> None:
        self.sent: list[KafkaCoordinates] = []

    def send(
        self, key: bytes | None, value: bytes, reason: str, detail: str, where: KafkaCoordinates
    ) -> PendingLetter:
        self.sent.append(where)
        return PendingLetter(object(), where)

    def confirm(self, letters: Sequence[PendingLetter]) -> None:
        if letters:
            raise DeadLetterError("TopicAuthorizationFailedError", letters[0].source)


class Writer:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def insert_visits(self, rows: Sequence[Row], dedup_token: str, *, retry: bool) -> None:
        self.rows += rows


class Erasures:
    def refresh_if_due(self) -> None: ...

    def keep(self, rows: list[Row]) -> tuple[list[Row], int]:
        return rows, 0


def _run(consumer: LogConsumer, max_attempts: int) -> tuple[int, RefusingDlq, Writer]:
    queue, writer = RefusingDlq(), Writer()
    worker = assemble(
        consumer=consumer,
        topic=TOPIC,
        writer=writer,
        dlq=queue,
        processor=Processor(),  # type: ignore[arg-type]
        erasures=Erasures(),
        guard=DlqGuard(1.0, 1000),
        policy=BatchPolicy(1000, 0.5, lambda: consumer.now),
        backoff=Backoff(0.5, 0.5),
        metrics=RecordingMetrics(),
        clock=lambda: consumer.now,
        sleep=lambda s: None,
        dlq_max_attempts=max_attempts,
    )
    consumer.worker = worker
    return worker.run(), queue, writer


def test_the_same_letter_refused_too_often_stops_the_worker_uncommitted() -> None:
    consumer = LogConsumer([b"ok", BAD, b"ok"], polls=100)
    code, queue, writer = _run(consumer, max_attempts=3)
    assert code == EXIT_DLQ_UNWRITABLE
    assert queue.sent == [KafkaCoordinates(TOPIC, 0, 1)] * 3  # each after a fresh fetch
    assert consumer.commits == [] and writer.rows == []  # nothing past the letter
    assert consumer.polls < 100  # it stopped on its own


def test_no_attempt_is_counted_while_kafka_serves_nothing() -> None:
    # One refused attempt, then Kafka away for 50 polls: nothing is fetched, so nothing is
    # attempted, and the worker is still running (and stops normally) when the run ends.
    consumer = LogConsumer([b"ok", BAD], polls=60, outage=range(3, 60))
    code, queue, _ = _run(consumer, max_attempts=2)
    assert code == EXIT_OK
    assert queue.sent == [KafkaCoordinates(TOPIC, 0, 1)]
