"""Crashes and outages: SIGTERM mid-batch, ClickHouse stopped mid-stream. Nothing is lost.

The ClickHouse test stops the shared local server for a few seconds (restarted in `finally`);
other suites running at that moment may see it down.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.local import clickhouse as local_clickhouse
from deploy.local.processes import ServiceError
from deploy.local.settings import StackSettings
from ingest.config import IngestConfig
from tests.ingest.conftest import (
    API_QUERY,
    GEOIP_TEST_DB,
    NOW_MS,
    RunningWorker,
    committed,
    produce,
    raw_event,
    request_ids,
    wait_until,
)

pytestmark = pytest.mark.faults
VH = Path(sys.executable).parent / "vh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return -1.0
    match = re.search(rf"^{name} (\S+)$", text.decode(), re.MULTILINE)
    return float(match.group(1)) if match else -1.0


def _start_clickhouse(stack: StackSettings, attempts: int = 3) -> None:
    """Start the shared server again; retried because another suite may restart it too."""
    for attempt in range(attempts):
        try:
            local_clickhouse.start(stack)
            return
        except ServiceError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)


def test_sigterm_mid_batch_flushes_commits_and_exits_0(
    ingest_config: IngestConfig, ch_client: Any
) -> None:
    c = ingest_config
    port = _free_port()
    env = {
        **os.environ,
        "VH_KAFKA_BOOTSTRAP": c.kafka_bootstrap,
        "VH_KAFKA_TOPIC": c.topic,
        "VH_KAFKA_DLQ_TOPIC": c.dlq_topic,
        "VH_KAFKA_GROUP": c.group,
        "VH_CLICKHOUSE_HOST": c.clickhouse_host,
        "VH_CLICKHOUSE_PORT": str(c.clickhouse_port),
        "VH_CLICKHOUSE_DATABASE": c.clickhouse_database,
        "VH_BATCH_MAX_ROWS": "100000",
        "VH_BATCH_MAX_SECONDS": "600",
        "VH_METRICS_PORT": str(port),
        "VH_GEOIP_DATABASE": str(GEOIP_TEST_DB),
    }
    produce(c.kafka_bootstrap, c.topic, [raw_event(f"r{i:03d}") for i in range(500)])
    proc = subprocess.Popen([str(VH), "worker"], env=env, stderr=subprocess.PIPE)
    try:
        # Mid-batch: every message read, none stored (the batch would wait 10 minutes).
        wait_until(
            lambda: _scrape(port, "vh_ingest_events_consumed_total") >= 500,
            timeout=60,
            what="worker consumed the messages",
        )
        assert _scrape(port, "vh_ingest_events_stored_total") == 0
        assert request_ids(ch_client, c.clickhouse_database) == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.communicate()[1].decode()
    assert '"worker stopped"' in stderr
    assert request_ids(ch_client, c.clickhouse_database) == [f"r{i:03d}" for i in range(500)]
    assert committed(c.kafka_bootstrap, c.group, c.topic) == 500


def test_clickhouse_stopped_mid_stream_loses_nothing(
    ingest_config: IngestConfig,
    start_worker: Callable[..., RunningWorker],
    ch_client: Any,
    local_stack: StackSettings,
) -> None:
    c = ingest_config
    db = c.clickhouse_database
    handle = start_worker(c)
    produce(c.kafka_bootstrap, c.topic, [raw_event(f"a{i:03d}") for i in range(300)])
    wait_until(lambda: committed(c.kafka_bootstrap, c.group, c.topic) == 300, what="first half")
    ch_client.disconnect()
    try:
        local_clickhouse.stop(local_stack)
        produce(c.kafka_bootstrap, c.topic, [raw_event(f"b{i:03d}") for i in range(300)])
        paused = ("vh_ingest_paused", ())
        wait_until(lambda: handle.metrics.gauges.get(paused) == 1, what="worker paused")
        time.sleep(2)  # several failed retries while the server is down
        assert handle.thread.is_alive()
        # Nothing past unwritten data: checked only while the server is really down (other
        # suites' fixtures start the shared server when they find it stopped).
        down_before = local_clickhouse.running_pid(local_stack) is None
        offset = committed(c.kafka_bootstrap, c.group, c.topic)
        if down_before and local_clickhouse.running_pid(local_stack) is None:
            assert offset == 300
    finally:
        _start_clickhouse(local_stack)
    wait_until(
        lambda: committed(c.kafka_bootstrap, c.group, c.topic) == 600, timeout=60, what="caught up"
    )
    assert handle.metrics.gauges[paused] == 0
    assert handle.metrics.counter("vh_ingest_insert_failures_total") >= 2
    assert handle.stop() == 0
    page = ch_client.execute(
        API_QUERY.format(db=db),
        {"t": "acme", "v": "visitor-1", "lo": 0, "hi": NOW_MS + 1, "n": 1000},
    )
    expected = sorted([f"a{i:03d}" for i in range(300)] + [f"b{i:03d}" for i in range(300)])
    assert sorted(r[0] for r in page) == expected
