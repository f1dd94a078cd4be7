"""The worker against the real broker and server: dedup, dead letters, cap, restart, erasure."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from ingest import dlq
from ingest.config import IngestConfig
from ingest.flow import EXIT_DLQ_GUARD
from tests.support.ingest import (
    API_QUERY,
    NOW_MS,
    RunningWorker,
    committed,
    produce,
    raw_event,
    request_ids,
    wait_until,
)

ROOT = Path(__file__).parents[2]
INVALID = sorted((ROOT / "schemas/examples/invalid").glob("*.json"))
Start = Callable[..., RunningWorker]


def _api_page(client: Any, db: str, visitor: str = "visitor-1", n: int = 100) -> list[str]:
    rows = client.execute(
        API_QUERY.format(db=db),
        {"t": "acme", "v": visitor, "lo": 0, "hi": NOW_MS + 10_000_000, "n": n},
    )
    return [r[0] for r in rows]


def _read_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    records = []
    for record in consumer:
        records.append(record)
        if len(records) >= expected:
            break
    consumer.close()
    return records


def test_the_same_event_twice_gives_one_visit(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    db, boot, topic = (
        ingest_config.clickhouse.database,
        ingest_config.kafka_bootstrap,
        ingest_config.topic,
    )
    produce(
        boot,
        topic,
        [
            raw_event("a", timestamp=NOW_MS - 2),
            raw_event("a", timestamp=NOW_MS - 2),
            raw_event("b", timestamp=NOW_MS - 1),
        ],
    )
    handle = start_worker(ingest_config)
    wait_until(lambda: committed(boot, ingest_config.group, topic) == 3, what="first commit")
    # Redelivered in a later batch (another insert block): still one visit for readers.
    produce(boot, topic, [raw_event("a", timestamp=NOW_MS - 2)])
    wait_until(lambda: committed(boot, ingest_config.group, topic) == 4, what="second commit")
    assert handle.stop() == 0
    assert _api_page(ch_client, db) == ["b", "a"]
    summary = ch_client.execute(
        f"SELECT uniqMerge(visits) FROM {db}.visitor_summary WHERE visitor_id = 'visitor-1'"
    )
    assert summary == [(2,)]
    ch_client.execute(f"OPTIMIZE TABLE {db}.visits FINAL")
    assert request_ids(ch_client, db) == ["a", "b"]


def test_each_invalid_example_is_dead_lettered_with_its_reason(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    boot, topic = ingest_config.kafka_bootstrap, ingest_config.topic
    values: list[bytes] = []
    for i, path in enumerate(INVALID):
        values += [raw_event(f"ok-{i}"), path.read_bytes()]
    produce(boot, topic, values, key=b"k")
    handle = start_worker(ingest_config)
    dead = _read_all(boot, ingest_config.dlq_topic, len(INVALID))
    wait_until(
        lambda: committed(boot, ingest_config.group, topic) == len(values), what="all committed"
    )
    assert handle.thread.is_alive()
    assert handle.stop() == 0
    assert request_ids(ch_client, ingest_config.clickhouse.database) == sorted(
        f"ok-{i}" for i in range(len(INVALID))
    )
    by_reason = {dlq.parse_headers(r.headers).reason: r for r in dead}
    assert set(by_reason) == {p.stem for p in INVALID}
    for i, path in enumerate(INVALID):
        record = by_reason[path.stem]
        info = dlq.parse_headers(record.headers)
        assert record.value == path.read_bytes()  # the original bytes, untouched
        assert record.key == b"k"
        assert (info.source.topic, info.source.partition, info.source.offset) == (
            topic,
            0,
            2 * i + 1,
        )
        assert info.detail
    assert handle.metrics.counter("vh_ingest_events_dead_lettered_total", reason="not_json") == 1


def test_mostly_dead_letters_stop_the_worker_without_committing_past_them(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    boot, topic = ingest_config.kafka_bootstrap, ingest_config.topic
    bad = (ROOT / "schemas/examples/invalid/schema.json").read_bytes()
    produce(boot, topic, [raw_event(f"ok-{i}") for i in range(5)] + [bad] * 60)
    handle = start_worker(ingest_config, dlq_window=20, dlq_max_ratio=0.5, batch_max_seconds=30.0)
    handle.thread.join(30)
    assert not handle.thread.is_alive() and handle.result == [EXIT_DLQ_GUARD]
    # 5 good + 15 dead letters fill the 20-message window at offset 19: it trips there.
    offset = committed(boot, ingest_config.group, topic)
    assert offset is None or offset <= 19
    assert handle.metrics.gauges[("vh_ingest_dlq_guard_tripped", (("partition", "0"),))] == 1
    assert handle.metrics.counter("vh_ingest_events_consumed_total") == 20


def test_a_restarted_worker_resumes_from_committed_offsets(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    boot, topic = ingest_config.kafka_bootstrap, ingest_config.topic
    produce(boot, topic, [raw_event(f"first-{i:03d}") for i in range(300)])
    first = start_worker(ingest_config)
    wait_until(lambda: committed(boot, ingest_config.group, topic) == 300, what="first commit")
    assert first.stop() == 0
    produce(boot, topic, [raw_event(f"second-{i:03d}") for i in range(200)])
    second = start_worker(ingest_config)
    wait_until(lambda: committed(boot, ingest_config.group, topic) == 500, what="second commit")
    assert second.stop() == 0
    assert second.metrics.counter("vh_ingest_events_consumed_total") == 200
    ids = request_ids(ch_client, ingest_config.clickhouse.database)
    assert len(ids) == len(set(ids)) == 500


def test_erased_visitors_are_not_resurrected_by_old_messages(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    db = ingest_config.clickhouse.database
    ch_client.execute(
        f"INSERT INTO {db}.erasures (tenant, visitor_id, erased_at_ms, requested_at) VALUES",
        [("acme", "gone", NOW_MS, 0)],
    )
    produce(
        ingest_config.kafka_bootstrap,
        ingest_config.topic,
        [
            raw_event("old", visitor="gone", timestamp=NOW_MS - 1000),
            raw_event("at", visitor="gone", timestamp=NOW_MS),
            raw_event("back", visitor="gone", timestamp=NOW_MS + 1000),
            raw_event("other", visitor="kept", timestamp=NOW_MS - 1000),
        ],
    )
    handle = start_worker(ingest_config)
    wait_until(
        lambda: (
            committed(ingest_config.kafka_bootstrap, ingest_config.group, ingest_config.topic) == 4
        ),
        what="commit",
    )
    assert handle.stop() == 0
    assert request_ids(ch_client, db) == ["back", "other"]
    assert handle.metrics.counter("vh_ingest_events_erased_total") == 2


def test_two_workers_share_partitions_and_readers_see_each_visit_once(
    ingest_config: IngestConfig,
    start_worker: Start,
    ch_client: Any,
    topic_factory: Callable[..., str],
) -> None:
    config = IngestConfig(**{**_fields(ingest_config), "topic": topic_factory("raw4", 4)})
    values = [raw_event(f"r{i:04d}", visitor=f"v{i % 37}") for i in range(2000)]
    produce(config.kafka_bootstrap, config.topic, values[:1000])
    a = start_worker(config)
    b = start_worker(config)
    # Both members hold partitions (2 + 2) before the second half is published.
    wait_until(
        lambda: all(len(w.worker.consumer.assignment()) == 2 for w in (a, b)),
        timeout=60,
        what="partitions shared",
    )
    produce(config.kafka_bootstrap, config.topic, values[1000:])
    db = config.clickhouse.database
    wait_until(lambda: len(set(request_ids(ch_client, db))) == 2000, timeout=60, what="all stored")
    assert a.stop() == 0 and b.stop() == 0
    consumed = [w.metrics.counter("vh_ingest_events_consumed_total") for w in (a, b)]
    assert all(c > 0 for c in consumed) and sum(consumed) >= 2000
    per_visitor = ch_client.execute(
        f"SELECT count() FROM (SELECT request_id FROM {db}.visits WHERE tenant = 'acme' "
        "ORDER BY timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id)"
    )
    assert per_visitor == [(2000,)]


def _fields(config: IngestConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__slots__}


def test_replay_republishes_dead_letters_once(
    ingest_config: IngestConfig, start_worker: Start, ch_client: Any
) -> None:
    from ingest.rows import KafkaCoordinates
    from vh.replay import replay

    # A letter dead-lettered by a bug since fixed: valid now, with this project's headers.
    headers = dlq.dead_letter_headers(
        "schema", "was rejected by an old worker", KafkaCoordinates(ingest_config.topic, 0, 7)
    )
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=ingest_config.kafka_bootstrap)
    for i in range(3):
        producer.send(
            ingest_config.dlq_topic, value=raw_event(f"replayed-{i}"), key=b"k", headers=headers
        )
    producer.send(ingest_config.dlq_topic, value=b"foreign", headers=[])
    producer.flush()
    producer.close()
    seen: list[tuple[int, int]] = []
    assert replay(ingest_config, progress=lambda d, t: seen.append((d, t))) == 3
    assert seen[-1] == (4, 4)
    assert replay(ingest_config) == 0  # its group committed: nothing twice
    handle = start_worker(ingest_config)
    db = ingest_config.clickhouse.database
    wait_until(lambda: len(request_ids(ch_client, db)) == 3, what="replayed stored")
    assert handle.stop() == 0
    assert request_ids(ch_client, db) == ["replayed-0", "replayed-1", "replayed-2"]
    assert json.loads(raw_event("x"))["workspaceId"] == "acme"
