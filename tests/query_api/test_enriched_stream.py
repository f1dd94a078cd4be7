"""The enriched stream on the real broker and server: every stored visit is published, as
the event ``GET /v4/events/{id}`` returns, before the worker commits its offset."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from query_api import tokens
from schemas.enriched_stream import EVENT_ID, EnrichedStreamSettings
from schemas.enriched_stream import TENANT as TENANT_HEADER
from tests.query_api import visits
from tests.query_api.test_through_kafka import publish, wait_until
from tests.support.api import AppFactory, now_ms
from tests.support.ingest import RunningWorker, committed, quick_worker_config
from tests.support.services import ClickHouseEndpoint

SEED_JSON = json.loads((visits.EXAMPLES / "seed-visit.json").read_bytes())


def read_all(bootstrap: str, topic: str, want: int, timeout_s: float = 30.0) -> list[Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=500
    )
    out: list[Any] = []

    def enough() -> bool:
        out.extend(consumer)  # what arrived within consumer_timeout_ms
        return len(out) >= want

    try:
        wait_until(enough, "records", timeout_s)
    finally:
        consumer.close()
    return out


def test_every_stored_visit_is_published_as_its_v4_event_before_its_commit(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
    start_worker: Callable[..., RunningWorker],
    app_factory: AppFactory,
    ch_client: Any,
) -> None:
    raw, enriched = topic_factory("raw"), topic_factory("enriched", partitions=2)
    config = quick_worker_config(
        kafka_bootstrap, raw, topic_factory("dlq"), clickhouse_endpoint, ch_database,
        batch_max_rows=1000, batch_max_seconds=1.0,
        enriched=EnrichedStreamSettings(topic=enriched, enabled=True),
    )  # fmt: skip
    recent = now_ms() - 60_000
    # One visitor twice in one block (the second one is "found"), others once; a located
    # address and the seed's own.
    events = [
        {**SEED_JSON, "requestId": "e.1", "timestamp": recent, "ip": visits.KNOWN_IP},
        {**SEED_JSON, "requestId": "e.2", "timestamp": recent + 10, "linkedId": "L"},
        *(
            {**SEED_JSON, "requestId": f"o.{i}", "visitorId": f"other{i}", "timestamp": recent}
            for i in range(20)
        ),
    ]
    publish(kafka_bootstrap, raw, [json.dumps(e).encode() for e in events])
    handle = start_worker(config)
    wait_until(lambda: committed(kafka_bootstrap, config.group, raw) == len(events), "commit")
    records = read_all(kafka_bootstrap, enriched, len(events))
    assert handle.metrics.counter("vh_ingest_events_published_total") >= len(events)
    by_id = {json.loads(r.value)["event_id"]: r for r in records}
    assert set(by_id) == {e["requestId"] for e in events}

    def execute(sql: str, params: Any) -> Any:
        return ch_client.execute(sql, params)

    _, secret = tokens.create(execute, ch_database, SEED_JSON["workspaceId"], "stream")
    api: httpx.Client = app_factory()
    for event in events:
        record = by_id[event["requestId"]]
        headers = dict(record.headers)
        assert record.key == event["visitorId"].encode()
        assert headers[EVENT_ID] == event["requestId"].encode()
        assert headers[TENANT_HEADER] == SEED_JSON["workspaceId"].encode()
        assert set(headers) == {EVENT_ID, TENANT_HEADER}
        assert record.timestamp >= recent  # CreateTime: when the worker published it
        got = api.get(
            f"/v4/events/{event['requestId']}", headers={"Authorization": f"Bearer {secret}"}
        )
        assert got.status_code == 200
        # Identification as of the event: the visitor's earlier visits were in this block.
        assert json.loads(record.value) == got.json()
    assert json.loads(by_id["e.2"].value)["identification"]["visitor_found"] is True
    assert by_id["e.1"].partition == by_id["e.2"].partition  # one visitor, one partition
    assert len({r.partition for r in records}) == 2  # 21 visitors spread over both
    assert handle.stop() == 0
