"""Ingest test helpers: raw events as collectors publish them, Kafka and ClickHouse probes, a
test worker's settings and its handle."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from enrich.config import EnrichConfig
from ingest.config import IngestConfig
from ingest.metrics import RecordingMetrics
from ingest.worker import Worker
from schemas.enriched_stream import EnrichedStreamSettings
from schemas.env import ClickHouseSettings
from tests.support.services import ClickHouseEndpoint

ROOT = Path(__file__).parents[2]
GEOIP_TEST_DB = ROOT / "tests/enrich/data/GeoIP2-City-Test.mmdb"
ENRICH = EnrichConfig.from_env({"VH_GEOIP_DATABASE": str(GEOIP_TEST_DB)})
NOW_MS = int(time.time() * 1000)

# The API engineer's visit query shape (query_api owns the real one).
API_QUERY = (
    "SELECT request_id, timestamp_ms, ip, city_name FROM {db}.visits "
    "WHERE tenant = %(t)s AND visitor_id = %(v)s AND timestamp_ms BETWEEN %(lo)s AND %(hi)s "
    "ORDER BY timestamp_ms DESC, request_id DESC LIMIT 1 BY request_id LIMIT %(n)s"
)


def raw_event(
    request_id: str,
    *,
    visitor: str = "visitor-1",
    tenant: str = "acme",
    timestamp: int | None = None,
    ip: str = "81.2.69.160",
) -> bytes:
    """A valid raw visit as collectors publish it."""
    return json.dumps(
        {
            "schemaVersion": 1,
            "workspaceId": tenant,
            "requestId": request_id,
            "visitorId": visitor,
            "timestamp": NOW_MS if timestamp is None else timestamp,
            "url": "https://shop.example/",
            "ip": ip,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "incognito": False,
        }
    ).encode()


def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes | None = None,
    partition: int | None = None,
) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, value=value, key=key, partition=partition)
    producer.flush()
    producer.close()


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")


def request_ids(client: Any, db: str) -> list[str]:
    """Every stored request_id, duplicates included (what readers must dedup)."""
    return sorted(r[0] for r in client.execute(f"SELECT request_id FROM {db}.visits"))


def committed(bootstrap: str, group: str, topic: str, partition: int = 0) -> int | None:
    """The group's committed offset (the next message it will read), None if none."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        offset = consumer.committed(TopicPartition(topic, partition))
    finally:
        consumer.close(autocommit=False)
    return None if offset is None else int(offset)


@dataclass
class RunningWorker:
    worker: Worker
    thread: threading.Thread
    metrics: RecordingMetrics
    result: list[int]

    def stop(self, timeout: float = 30.0) -> int:
        self.worker.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker did not stop"
        return self.result[0]


def quick_worker_config(
    kafka_bootstrap: str,
    topic: str,
    dlq_topic: str,
    clickhouse: ClickHouseEndpoint,
    database: str,
    **overrides: Any,
) -> IngestConfig:
    """A worker's settings for a test: its own topic, group and database; small, fast
    batches and retries, no metrics port (tests read metrics in-process)."""
    return replace(
        IngestConfig(
            kafka_bootstrap=kafka_bootstrap,
            topic=topic,
            dlq_topic=dlq_topic,
            group=f"{topic}-group",
            clickhouse=ClickHouseSettings(clickhouse.host, clickhouse.port, database=database),
            batch_max_rows=500,
            batch_max_seconds=0.2,
            metrics_port=0,
            retry_initial_seconds=0.2,
            retry_max_seconds=1.0,
            erasure_refresh_seconds=0.0,
            # Off unless a test turns it on with a topic of its own (the stream's tests).
            enriched=EnrichedStreamSettings(enabled=False),
        ),
        **overrides,
    )
