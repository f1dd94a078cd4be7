"""Fixtures of the faults suite: a private Kafka + ClickHouse, real worker processes, the API.

Everything here runs against a PRIVATE local stack (own var dir under the test's tmp dir, free
loopback ports, the shared jar cache), started once for the suite and stopped at its end, so
the suite may kill -9 and restart services without disturbing the shared ones that other
suites and benchmarks use.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local import clickhouse as local_clickhouse
from deploy.local import kafka as local_kafka
from deploy.local.processes import ServiceError
from deploy.local.settings import StackSettings
from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig
from schemas.clickhouse import migrations
from tests.conftest import ClickHouseEndpoint
from tests.faults import report

# In-process workers with recorded metrics, for tests that read the worker's gauges.
from tests.ingest.conftest import start_worker  # noqa: F401 (a fixture, re-exported)
from tests.query_api.conftest import LiveServer, environ_for, wait_ready

ROOT = Path(__file__).resolve().parents[2]
VH = Path(sys.executable).parent / "vh"
GEOIP_TEST_DB = ROOT / "tests/enrich/data/GeoIP2-City-Test.mmdb"
# The broker's floor (group.min.session.timeout.ms): a kill -9'd worker is noticed this fast.
SESSION_TIMEOUT_MS = 6_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.2) -> None:
    """Poll ``check`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# -- the private stack --------------------------------------------------------------------------


def _start_kafka(stack: StackSettings, attempts: int = 4) -> None:
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
    _start_kafka(stack)


def restart_clickhouse(stack: StackSettings, down_s: float = 2.0) -> None:
    local_clickhouse.stop(stack)
    time.sleep(down_s)
    local_clickhouse.start(stack)


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """Kafka and ClickHouse of our own, for tests that kill and restart them."""
    shared = StackSettings.from_env()
    env = {
        **os.environ,
        "VH_VAR_DIR": str(tmp_path_factory.mktemp("faults-stack")),
        "VH_CACHE_DIR": str(shared.cache_dir),
        "VH_KAFKA_PORT": str(free_port()),
        "VH_KAFKA_CONTROLLER_PORT": str(free_port()),
        "VH_CLICKHOUSE_PORT": str(free_port()),
        "VH_CLICKHOUSE_HTTP_PORT": str(free_port()),
        "VH_KAFKA_HEAP": "512m",
    }
    stack = StackSettings.from_env(env)
    try:
        _start_kafka(stack)
        local_clickhouse.start(stack)
        yield stack
    finally:
        local_kafka.stop(stack)
        local_clickhouse.stop(stack)


@pytest.fixture(scope="session")
def private_clickhouse(private_stack: StackSettings) -> ClickHouseEndpoint:
    return ClickHouseEndpoint("127.0.0.1", private_stack.clickhouse_port)


# -- per-test resources ---------------------------------------------------------------------


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


@pytest.fixture
def pipeline_factory(
    private_stack: StackSettings, private_clickhouse: ClickHouseEndpoint
) -> Iterator[Callable[..., Pipeline]]:
    """``make("name", partitions=4)``: fresh topics, group and migrated database."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    made: list[Pipeline] = []

    def make(name: str, partitions: int = 4) -> Pipeline:
        run = uuid.uuid4().hex[:8]
        p = Pipeline(
            stack=private_stack,
            clickhouse=private_clickhouse,
            topic=f"faults-{name}-{run}",
            dlq_topic=f"faults-{name}-{run}-dlq",
            group=f"faults-{name}-{run}-group",
            database=f"faults_{name}_{run}",
            partitions=partitions,
        )
        admin = KafkaAdminClient(bootstrap_servers=p.bootstrap)
        try:
            admin.create_topics([NewTopic(p.topic, partitions, 1), NewTopic(p.dlq_topic, 1, 1)])
        finally:
            admin.close()
        client = private_clickhouse.client()
        try:
            migrations.apply(client.execute, p.database, log=lambda _msg: None)
        finally:
            client.disconnect()
        made.append(p)
        return p

    yield make
    client = private_clickhouse.client()
    try:
        for p in made:
            client.execute(f"DROP DATABASE IF EXISTS {p.database}")
    except Exception:
        pass  # a test that failed with ClickHouse down: the stack's var dir goes anyway
    finally:
        client.disconnect()


# -- worker processes -------------------------------------------------------------------------


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


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `vh worker` processes; any still running at teardown is killed."""
    started: list[WorkerProcess] = []

    def spawn(env: dict[str, str]) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([str(VH), "worker"], env=env, stdout=out, stderr=out)
        handle = WorkerProcess(proc, log)
        started.append(handle)
        return handle

    yield spawn
    for handle in started:
        if handle.alive():
            handle.proc.kill()
            handle.proc.wait(10)


# -- the API --------------------------------------------------------------------------------


@dataclass
class Api:
    """The real query API app served by uvicorn, plus a token per tenant."""

    client: httpx.Client
    secrets: dict[str, str] = field(default_factory=dict)

    def headers(self, tenant: str) -> dict[str, str]:
        return {"Auth-API-Key": self.secrets[tenant]}


@pytest.fixture
def serve_api() -> Iterator[Callable[..., Api]]:
    """``serve(pipeline, tenants, **env)``: the API on a pipeline's database, tokens made."""
    servers: list[tuple[LiveServer, httpx.Client]] = []

    def serve(p: Pipeline, tenants: list[str], **env: str) -> Api:
        client = p.client()
        try:
            secrets = {
                t: tokens.create(
                    lambda sql, params: client.execute(sql, params), p.database, t, "faults"
                )[1]
                for t in tenants
            }
        finally:
            client.disconnect()
        config = ApiConfig.from_env({**environ_for(p.clickhouse, p.database), **env})
        server = LiveServer(create_app(config))
        http = httpx.Client(base_url=server.start(), timeout=60)
        servers.append((server, http))
        wait_ready(http)
        return Api(http, secrets)

    yield serve
    for server, http in servers:
        http.close()
        server.stop()


# -- the report -----------------------------------------------------------------------------

_FIGURES = report.Figures()
_OUTCOMES: dict[str, str] = {}


@pytest.fixture(scope="session")
def figures() -> Iterator[report.Figures]:
    """Where tests put the figures of docs/reliability.md; written when the session ends."""
    yield _FIGURES
    print(f"\nfaults report: {report.write(_FIGURES, _OUTCOMES)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    result = outcome.get_result()
    # Each test module names its section of the report in a module-level SECTION.
    key = getattr(getattr(item, "module", None), "SECTION", None)
    if key is None or result.when != "call":
        return
    # A section that already failed stays failed whatever its other tests did.
    if _OUTCOMES.get(key) != "failed":
        _OUTCOMES[key] = "passed" if result.passed else "failed"
