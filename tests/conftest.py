"""Real services for the test session.

Kafka and ClickHouse are the project's own local stack (deploy/local), started once per
session if not already running, and left running afterwards (the next run reuses them; `make
down` stops them). With `VH_TEST_SERVICES=containers` and a Docker engine, testcontainers'
Kafka and ClickHouse modules provide them instead.

Isolation: every test run has its own id; topics and databases carry it, so runs and tests
never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from deploy.local import clickhouse as local_clickhouse
from deploy.local import kafka as local_kafka
from deploy.local.settings import StackSettings
from ingest.kafka_workarounds import close_failed_connects
from tests.support.services import ChdbSession, ClickHouseEndpoint

RUN_ID = uuid.uuid4().hex[:8]

# The suite's own Kafka clients too: a refused connect must not leave a socket for the
# collector to warn about (filterwarnings = error turns that into a failure of some test).
close_failed_connects()

# A test that uses one of these fixtures talks to that service: mark it so, so that
# `-m "not kafka and not clickhouse"` runs the pure tests alone.
_SERVICE_FIXTURES = {
    "kafka_bootstrap": "kafka",
    "topic_factory": "kafka",
    "clickhouse_endpoint": "clickhouse",
    "ch_database": "clickhouse",
    "ch_client": "clickhouse",
    "local_stack": "clickhouse",
    "chdb_session": "chdb",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        for fixture, marker in _SERVICE_FIXTURES.items():
            if fixture in names:
                item.add_marker(marker)
        if "local_stack" in names:
            item.add_marker("kafka")


def _containers_requested() -> bool:
    return os.environ.get("VH_TEST_SERVICES", "local") == "containers"


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings.from_env()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack_settings: StackSettings) -> Iterator[str]:
    """bootstrap_servers of a real Kafka broker."""
    if _containers_requested():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    local_kafka.start(stack_settings)
    yield stack_settings.kafka_bootstrap


@pytest.fixture(scope="session")
def clickhouse_endpoint(stack_settings: StackSettings) -> Iterator[ClickHouseEndpoint]:
    """Host and native port of a real ClickHouse server."""
    if _containers_requested():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer("clickhouse/clickhouse-server:latest") as container:
            yield ClickHouseEndpoint(
                container.get_container_host_ip(),
                int(container.get_exposed_port(9000)),
                container.username,
                container.password,
            )
        return
    local_clickhouse.start(stack_settings)
    yield ClickHouseEndpoint("127.0.0.1", stack_settings.clickhouse_port)


@pytest.fixture(scope="session")
def local_stack(
    stack_settings: StackSettings, kafka_bootstrap: str, clickhouse_endpoint: ClickHouseEndpoint
) -> StackSettings:
    """The project's own local services, for tests that stop and restart them."""
    if _containers_requested():
        pytest.skip("restarting services is only done on the local stack")
    return stack_settings


@pytest.fixture
def topic_factory(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """Creates topics unique to this test: `topic_factory("raw", partitions=4)` -> name."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    created: list[str] = []
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]

    def make(suffix: str = "t", partitions: int = 1) -> str:
        name = f"vh-test-{RUN_ID}-{test}-{suffix}-{len(created)}"
        admin.create_topics([NewTopic(name, partitions, 1)])
        created.append(name)
        return name

    yield make
    try:
        if created:
            admin.delete_topics(created)
    finally:
        admin.close()


@pytest.fixture
def ch_database(
    clickhouse_endpoint: ClickHouseEndpoint, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh, migrated ClickHouse database for this test; dropped afterwards."""
    from schemas.clickhouse import migrations

    name = f"vh_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    client = clickhouse_endpoint.client()
    migrations.apply(client.execute, name, log=lambda _msg: None)
    yield name
    client.execute(f"DROP DATABASE IF EXISTS {name}")
    client.disconnect()


@pytest.fixture
def ch_client(clickhouse_endpoint: ClickHouseEndpoint, ch_database: str) -> Iterator[Any]:
    """A clickhouse-driver Client on this test's migrated database."""
    client = clickhouse_endpoint.client(ch_database)
    yield client
    client.disconnect()


@pytest.fixture(scope="session")
def chdb_session() -> Iterator[ChdbSession]:
    session = ChdbSession()
    yield session
    session.close()
