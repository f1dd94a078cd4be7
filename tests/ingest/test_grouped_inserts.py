"""Batches due together go to ClickHouse as one insert, and a failed group is retried as the
same group (same rows, same deduplication token) before anything else. Scripted consumer
and writer, fake clock: no services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ingest.assembly import assemble
from ingest.backoff import Backoff
from ingest.batching import BatchPolicy
from ingest.dlq_guard import DlqGuard
from ingest.errors import ClickHouseUnavailable
from ingest.flow import EXIT_OK
from ingest.metrics import RecordingMetrics
from ingest.rows import KafkaCoordinates, Row
from ingest.worker import Worker

TOPIC = "raw"


def _record(partition: int, offset: int) -> Any:
    return ConsumerRecord(
        TOPIC, partition, None, offset, 0, 0, None, b"v", [], None, 0, 1, -1
    )  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedConsumer:
    """Each poll() returns the next scripted result and advances the clock; then stops."""

    def __init__(self, script: list[dict[Any, list[Any]]], clock: Clock, step: float) -> None:
        self.script = script
        self.clock = clock
        self.step = step
        self.worker: Worker | None = None
        self.commits: list[dict[int, int]] = []
        self.paused: set[Any] = set()
        self.seeks: list[tuple[int, int]] = []
        #: poll number -> partitions revoked during that poll (as kafka-python's rebalance)
        self.revoke_at: dict[int, list[int]] = {}
        self.polls = 0

    def subscribe(self, topics: list[str], listener: Any) -> None: ...

    def topics(self) -> set[str]:
        return {TOPIC}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def assignment(self) -> set[Any]:
        return {TopicPartition(TOPIC, p) for p in (0, 1, 2)}

    def pause(self, *tps: Any) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: Any) -> None:
        self.paused -= set(tps)

    def highwater(self, tp: Any) -> None:
        return None

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.commits.append({tp.partition: meta.offset for tp, meta in offsets.items()})

    def commit_async(self, offsets: dict[Any, Any]) -> None:
        self.commit(offsets)

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp.partition, offset))

    def poll(self, timeout_ms: int) -> dict[Any, list[Any]]:
        self.clock.now += self.step
        self.polls += 1
        if self.polls in self.revoke_at:
            assert self.worker is not None
            self.worker.revoke([TopicPartition(TOPIC, p) for p in self.revoke_at.pop(self.polls)])
        if not self.script:
            assert self.worker is not None
            self.worker.stop()
            return {}
        return self.script.pop(0)

    def close(self, autocommit: bool) -> None: ...


class Processor:
    def process(
        self, value: bytes | None, where: KafkaCoordinates, *, now_ms: int, ingested_at_s: int
    ) -> Row:
        return (where.partition, where.offset)


class Writer:
    """Refuses the first ``failures`` inserts; records every attempt."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[tuple[list[Row], str]] = []
        self.retries: list[bool] = []

    def insert_visits(self, rows: Sequence[Row], dedup_token: str, *, retry: bool) -> None:
        self.attempts.append((list(rows), dedup_token))
        self.retries.append(retry)
        if len(self.attempts) <= self.failures:
            raise ClickHouseUnavailable("clickhouse:9000", ConnectionResetError("reset"))


class Erasures:
    def refresh_if_due(self) -> None: ...

    def keep(self, rows: list[Row]) -> tuple[list[Row], int]:
        return rows, 0


class Dlq:
    def confirm(self, futures: list[Any]) -> None: ...


def _run(
    script: list[dict[Any, list[Any]]],
    writer: Writer,
    revoke_at: dict[int, list[int]] | None = None,
) -> ScriptedConsumer:
    clock = Clock()
    consumer = ScriptedConsumer(script, clock, step=0.3)
    consumer.revoke_at = dict(revoke_at or {})
    worker = assemble(
        consumer=consumer,
        topic=TOPIC,
        writer=writer,
        dlq=Dlq(),  # type: ignore[arg-type]
        processor=Processor(),  # type: ignore[arg-type]
        erasures=Erasures(),
        guard=DlqGuard(0.5, 1000),
        policy=BatchPolicy(1000, 1.0, clock),
        backoff=Backoff(0.2, 0.2),
        metrics=RecordingMetrics(),
        clock=clock,
        sleep=lambda s: None,
    )
    consumer.worker = worker
    assert worker.run() == EXIT_OK
    return consumer


def _poll(partitions: dict[int, range]) -> dict[Any, list[Any]]:
    return {
        TopicPartition(TOPIC, p): [_record(p, o) for o in offsets]
        for p, offsets in partitions.items()
    }


def test_batches_due_together_are_one_insert_naming_every_range() -> None:
    writer = Writer(failures=0)
    consumer = _run([_poll({0: range(0, 3), 1: range(10, 12), 2: range(5, 6)})] + [{}] * 4, writer)
    assert len(writer.attempts) == 1
    rows, token = writer.attempts[0]
    assert sorted(rows) == [(0, 0), (0, 1), (0, 2), (1, 10), (1, 11), (2, 5)]
    assert token == "raw-0-0-2|raw-1-10-11|raw-2-5-5"
    assert consumer.commits == [{0: 3, 1: 12, 2: 6}]


def test_a_failed_group_is_retried_as_the_same_group_first() -> None:
    writer = Writer(failures=1)
    # Partitions 0 and 1 come due together and fail; partition 2's batch opens meanwhile
    # (polled before the failure paused everything) and must not join the retried group.
    script = [
        _poll({0: range(0, 2), 1: range(0, 2)}),
        {},
        _poll({2: range(7, 9)}),
        {},
        {},
        {},
        {},
        {},
    ]
    consumer = _run(script, writer)
    (failed_rows, failed_token), (retry_rows, retry_token) = writer.attempts[:2]
    assert failed_token == retry_token == "raw-0-0-1|raw-1-0-1"
    assert retry_rows == failed_rows
    # The writer is told which attempt repeats a failed one (the views may lack its rows);
    # the next group's first attempt is not a retry.
    assert writer.retries == [False, True, False]
    stored = [row for rows, _ in writer.attempts[1:] for row in rows]
    assert sorted(stored) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 7), (2, 8)]
    assert {p: o for c in consumer.commits for p, o in c.items()} == {0: 2, 1: 2, 2: 9}
    assert not consumer.paused


def test_a_partition_revoked_during_the_retry_stays_in_the_retried_group() -> None:
    # The group of partitions 0 and 1 fails (the server may have stored it all the same: an
    # acknowledgement lost). Partition 0 is revoked before the retry. The retry must still be
    # the identical block under the identical token, or a stored first attempt is not
    # dropped; partition 0's offsets are no longer ours to commit, and it is rewound.
    writer = Writer(failures=1)
    script = [_poll({0: range(0, 2), 1: range(0, 2)})] + [{}] * 7
    consumer = _run(script, writer, revoke_at={6: [0]})  # after the failure
    (failed_rows, failed_token), (retry_rows, retry_token) = writer.attempts[:2]
    assert failed_token == retry_token == "raw-0-0-1|raw-1-0-1"
    assert retry_rows == failed_rows
    assert len(writer.attempts) == 2
    assert {p: o for c in consumer.commits for p, o in c.items()} == {1: 2}
    assert (0, 0) in consumer.seeks
