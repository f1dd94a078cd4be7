"""Fault-suite helpers: the private stack's restarts, a test's pipeline (topics, group,
database), `vh worker` processes, the API with tokens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local import clickhouse as local_clickhouse
from deploy.local import kafka as local_kafka
from deploy.local.processes import ServiceError
from deploy.local.settings import StackSettings
from tests.support.services import ClickHouseEndpoint

ROOT = Path(__file__).resolve().parents[2]
VH = Path(sys.executable).parent / "vh"
GEOIP_TEST_DB = ROOT / "tests/enrich/data/GeoIP2-City-Test.mmdb"
# The broker's floor (group.min.session.timeout.ms): a kill -9'd worker is noticed this fast.
SESSION_TIMEOUT_MS = 6_000


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# -- the private stack --------------------------------------------------------------------------


def start_kafka(stack: StackSettings, attempts: int = 4) -> None:
    # deploy.local.kafka formats storage with `-t <id>`; a random base64url id that starts
    # with "-" is read by the tool as an option (1 run in 64). A retry draws a new id.
    for attempt in range(attempts):
        try:
            local_kafka.start(stack)
            return
        except ServiceError as exc:
            if "formatting KRaft storage" not in str(exc) or attempt == attempts - 1:
                raise


def restart_kafka(stack: StackSettings, down_s: float = 2.0) -> None:
    local_kafka.stop(stack)
    time.sleep(down_s)
    start_kafka(stack)


def restart_clickhouse(stack: StackSettings, down_s: float = 2.0) -> None:
    local_clickhouse.stop(stack)
    time.sleep(down_s)
    local_clickhouse.start(stack)


@dataclass
class Pipeline:
    """One test's topics, group and migrated database on the private stack."""

    stack: StackSettings
    clickhouse: ClickHouseEndpoint
    topic: str
    dlq_topic: str
    group: str
    database: str
    partitions: int

    @property
    def bootstrap(self) -> str:
        return self.stack.kafka_bootstrap

    def client(self) -> Any:
        """A new clickhouse-driver Client on this database (the caller disconnects it)."""
        return self.clickhouse.client(self.database)

    def worker_env(self, **extra: str) -> dict[str, str]:
        """The environment of a `vh worker` on this pipeline."""
        return {
            **os.environ,
            "VH_KAFKA_BOOTSTRAP": self.bootstrap,
            "VH_KAFKA_TOPIC": self.topic,
            "VH_KAFKA_DLQ_TOPIC": self.dlq_topic,
            "VH_KAFKA_GROUP": self.group,
            "VH_CLICKHOUSE_HOST": self.clickhouse.host,
            "VH_CLICKHOUSE_PORT": str(self.clickhouse.port),
            "VH_CLICKHOUSE_DATABASE": self.database,
            "VH_GEOIP_DATABASE": str(GEOIP_TEST_DB),
            "VH_METRICS_PORT": "0",
            "VH_KAFKA_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "VH_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "VH_RETRY_INITIAL_SECONDS": "0.2",
            "VH_RETRY_MAX_SECONDS": "2",
            "VH_LOG_LEVEL": "INFO",
            **extra,
        }

    def end_offsets(self, topic: str | None = None) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition

        name = topic or self.topic
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        try:
            parts = sorted(consumer.partitions_for_topic(name) or ())
            ends = consumer.end_offsets([TopicPartition(name, p) for p in parts])
        finally:
            consumer.close()
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    def committed(self) -> dict[int, int]:
        """The group's committed offsets by partition (0 where none)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
        )
        try:
            return {
                p: int(consumer.committed(TopicPartition(self.topic, p)) or 0)
                for p in range(self.partitions)
            }
        finally:
            consumer.close(autocommit=False)

    def caught_up(self) -> bool:
        """Every partition's committed offset is its end offset (broker errors: not yet)."""
        try:
            return self.committed() == self.end_offsets()
        except Exception:
            return False


@dataclass
class WorkerProcess:
    """One `vh worker` subprocess; its stderr (JSON logs) goes to ``log``."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float | None:
        """Resident memory (VmRSS) now, None once the process is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the worker flushes, commits and exits."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@dataclass
class Api:
    """The real query API app served by uvicorn, plus a token per tenant."""

    client: httpx.Client
    secrets: dict[str, str] = field(default_factory=dict)

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Auth-API-Key": self.secrets[tenant]}
