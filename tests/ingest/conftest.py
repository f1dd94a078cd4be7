"""Helpers for the ingest tests: a worker in a thread on this test's topics and database."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from enrich.config import EnrichConfig
from ingest.assembly import open_worker
from ingest.config import IngestConfig
from ingest.metrics import RecordingMetrics
from ingest.worker import Worker
from schemas.env import ClickHouseSettings
from tests.conftest import ClickHouseEndpoint

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
        ),
        **overrides,
    )


@pytest.fixture
def ingest_config(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
) -> IngestConfig:
    """Settings on this test's own topics, group and database; small, fast batches."""
    return quick_worker_config(
        kafka_bootstrap,
        topic_factory("raw"),
        topic_factory("dlq"),
        clickhouse_endpoint,
        ch_database,
    )


@pytest.fixture
def start_worker() -> Iterator[Callable[..., RunningWorker]]:
    """Starts workers in threads; stops any still running at teardown."""
    running: list[RunningWorker] = []

    def start(
        config: IngestConfig, enrich: EnrichConfig = ENRICH, **overrides: Any
    ) -> RunningWorker:
        metrics = RecordingMetrics()
        result: list[int] = []
        ready = threading.Event()
        holder: list[Worker] = []

        def body() -> None:
            with open_worker(replace(config, **overrides), enrich, metrics) as worker:
                holder.append(worker)
                ready.set()
                result.append(worker.run())

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        assert ready.wait(30), "worker did not start"
        handle = RunningWorker(holder[0], thread, metrics, result)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        if handle.thread.is_alive():
            handle.stop()
