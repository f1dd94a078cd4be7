"""A Kafka broker restart mid-stream: the worker stays up, and stores everything exactly once.

The broker is a PRIVATE one (own var dir, free ports, the shared jar cache) so stopping it
disturbs no other suite or benchmark; ClickHouse is the shared server (this test's database).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deploy.local import kafka as local_kafka
from deploy.local.settings import StackSettings
from ingest.config import IngestConfig
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
from tests.support.services import private_stack_settings

pytestmark = [
    pytest.mark.faults,
]
DOWN_S = 10.0


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    stack = private_stack_settings(tmp_path_factory.mktemp("broker-restart"), clickhouse=False)
    try:
        local_kafka.start(stack)
        yield stack
    finally:
        local_kafka.stop(stack)


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        wait_until(lambda: bool(consumer.partitions_for_topic(name)), what=f"{name} metadata")
    finally:
        consumer.close()


def test_worker_rides_out_a_broker_restart(
    ingest_config: IngestConfig,
    private_kafka: StackSettings,
    start_worker: Callable[..., RunningWorker],
    ch_client: Any,
    tmp_path: Path,
) -> None:
    boot = private_kafka.kafka_bootstrap
    name = f"restart-{tmp_path.name}"[:80]
    config = replace(
        ingest_config,
        kafka_bootstrap=boot,
        topic=f"{name}-raw",
        dlq_topic=f"{name}-dlq",
        group=f"{name}-group",
        batch_max_rows=100,
    )
    _create_topic(boot, config.topic, 2)
    _create_topic(boot, config.dlq_topic, 1)
    first = [f"a{i:04d}" for i in range(1000)]
    second = [f"b{i:04d}" for i in range(1000)]
    produce(boot, config.topic, [raw_event(r) for r in first])
    handle = start_worker(config)
    wait_until(
        lambda: sum(committed(boot, config.group, config.topic, p) or 0 for p in (0, 1)) > 0,
        timeout=60,
        what="a first commit",
    )
    local_kafka.stop(private_kafka)  # mid-stream: part of the first half may be in flight
    time.sleep(DOWN_S)
    assert handle.thread.is_alive(), "the worker died while the broker was down"
    local_kafka.start(private_kafka)
    produce(boot, config.topic, [raw_event(r) for r in second])

    def caught_up() -> bool:
        try:
            offsets = [committed(boot, config.group, config.topic, p) or 0 for p in (0, 1)]
        except Exception:  # the broker's group coordinator may still be loading
            return False
        return sum(offsets) == len(first) + len(second)

    wait_until(caught_up, timeout=120, what="every message committed")
    assert handle.thread.is_alive()
    assert handle.stop() == 0
    db = config.clickhouse.database
    assert set(request_ids(ch_client, db)) == set(first + second)
    page = ch_client.execute(
        API_QUERY.format(db=db),
        {"t": "acme", "v": "visitor-1", "lo": 0, "hi": NOW_MS + 1, "n": 10_000},
    )
    assert sorted(r[0] for r in page) == sorted(first + second)  # each visit once for readers
