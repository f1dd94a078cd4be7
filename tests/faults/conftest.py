"""Fixtures of the faults suite: a private Kafka + ClickHouse, real worker processes, the API.

Everything here runs against a PRIVATE local stack (own var dir under the test's tmp dir, free
loopback ports, the shared jar cache), started once for the suite and stopped at its end, so
the suite may kill -9 and restart services without disturbing the shared ones that other
suites and benchmarks use.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local import clickhouse as local_clickhouse
from deploy.local import kafka as local_kafka
from deploy.local.settings import StackSettings
from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig
from schemas.clickhouse import migrations
from tests.faults import report

# In-process workers with recorded metrics, for tests that read the worker's gauges.
from tests.ingest.conftest import start_worker  # noqa: F401 (a fixture, re-exported)
from tests.support.api import LiveServer, environ_for, wait_ready
from tests.support.faults import (
    VH,
    Api,
    Pipeline,
    WorkerProcess,
    start_kafka,
)
from tests.support.services import ClickHouseEndpoint, private_stack_settings


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackSettings]:
    """Kafka and ClickHouse of our own, for tests that kill and restart them."""
    stack = private_stack_settings(tmp_path_factory.mktemp("faults-stack"))
    try:
        start_kafka(stack)
        local_clickhouse.start(stack)
        yield stack
    finally:
        local_kafka.stop(stack)
        local_clickhouse.stop(stack)


@pytest.fixture(scope="session")
def private_clickhouse(private_stack: StackSettings) -> ClickHouseEndpoint:
    return ClickHouseEndpoint("127.0.0.1", private_stack.clickhouse_port)


# -- per-test resources ---------------------------------------------------------------------


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
