"""SIGTERM mid-batch: the worker flushes, commits and exits 0. Nothing is lost.

(ClickHouse stopped mid-stream runs on the fault suite's private stack:
tests/faults/test_clickhouse_outage.py.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ingest.config import IngestConfig
from tests.support.ingest import (
    GEOIP_TEST_DB,
    committed,
    produce,
    raw_event,
    request_ids,
    wait_until,
)
from tests.support.services import free_port

pytestmark = pytest.mark.faults
VH = Path(sys.executable).parent / "vh"


def _scrape(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return -1.0
    match = re.search(rf"^{name} (\S+)$", text.decode(), re.MULTILINE)
    return float(match.group(1)) if match else -1.0


def test_sigterm_mid_batch_flushes_commits_and_exits_0(
    ingest_config: IngestConfig, ch_client: Any
) -> None:
    c = ingest_config
    port = free_port()
    env = {
        **os.environ,
        "VH_KAFKA_BOOTSTRAP": c.kafka_bootstrap,
        "VH_KAFKA_TOPIC": c.topic,
        "VH_KAFKA_DLQ_TOPIC": c.dlq_topic,
        "VH_KAFKA_GROUP": c.group,
        "VH_CLICKHOUSE_HOST": c.clickhouse.host,
        "VH_CLICKHOUSE_PORT": str(c.clickhouse.port),
        "VH_CLICKHOUSE_DATABASE": c.clickhouse.database,
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
        assert request_ids(ch_client, c.clickhouse.database) == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        stderr = proc.communicate()[1].decode()
    assert '"worker stopped"' in stderr
    assert request_ids(ch_client, c.clickhouse.database) == [f"r{i:03d}" for i in range(500)]
    assert committed(c.kafka_bootstrap, c.group, c.topic) == 500
