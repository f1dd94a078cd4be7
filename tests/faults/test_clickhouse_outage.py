"""ClickHouse stopped mid-stream, on the private stack: the worker pauses its partitions,
commits nothing past rows ClickHouse does not have, stays in its group, and catches up once
the server is back. Nothing is lost, nothing is stored twice.

It runs on this suite's own servers, so stopping ClickHouse never disturbs the shared local
stack (a `make run` or another suite using it meanwhile)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from deploy.local import clickhouse as local_clickhouse
from deploy.local.settings import StackSettings
from tests.support.faults import Pipeline
from tests.support.ingest import (
    API_QUERY,
    NOW_MS,
    RunningWorker,
    committed,
    produce,
    quick_worker_config,
    raw_event,
    wait_until,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.clickhouse]


def test_clickhouse_stopped_mid_stream_loses_nothing(
    pipeline_factory: Callable[..., Pipeline],
    private_stack: StackSettings,
    start_worker: Callable[..., RunningWorker],
) -> None:
    p = pipeline_factory("chdown", partitions=1)
    c = quick_worker_config(p.bootstrap, p.topic, p.dlq_topic, p.clickhouse, p.database)
    handle = start_worker(c)
    produce(c.kafka_bootstrap, c.topic, [raw_event(f"a{i:03d}") for i in range(300)])
    wait_until(lambda: committed(c.kafka_bootstrap, c.group, c.topic) == 300, what="first half")
    local_clickhouse.stop(private_stack)
    try:
        produce(c.kafka_bootstrap, c.topic, [raw_event(f"b{i:03d}") for i in range(300)])
        paused = ("vh_ingest_paused", ())
        wait_until(lambda: handle.metrics.gauges.get(paused) == 1, what="worker paused")
        time.sleep(2)  # several failed retries while the server is down
        assert handle.thread.is_alive()
        # Nothing committed past the rows ClickHouse has.
        assert committed(c.kafka_bootstrap, c.group, c.topic) == 300
    finally:
        local_clickhouse.start(private_stack)
    wait_until(
        lambda: committed(c.kafka_bootstrap, c.group, c.topic) == 600, timeout=60, what="caught up"
    )
    assert handle.metrics.gauges[paused] == 0
    assert handle.metrics.counter("vh_ingest_insert_failures_total") >= 2
    assert handle.stop() == 0
    client = p.client()
    try:
        page = client.execute(
            API_QUERY.format(db=p.database),
            {"t": "acme", "v": "visitor-1", "lo": 0, "hi": NOW_MS + 1, "n": 1000},
        )
    finally:
        client.disconnect()
    expected = sorted([f"a{i:03d}" for i in range(300)] + [f"b{i:03d}" for i in range(300)])
    assert sorted(r[0] for r in page) == expected
