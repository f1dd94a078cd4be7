"""Fixtures of the query API tests: a config on the test's database, tokens, a live app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig

# An ingest worker in a thread, for the end-to-end test through Kafka.
from tests.ingest.conftest import start_worker  # noqa: F401 (a fixture, re-exported)
from tests.query_api.engines import ChdbEngine, Engine, ServerEngine
from tests.support.api import (
    OTHER_TENANT,
    TENANT,
    AppFactory,
    LiveServer,
    Secrets,
    environ_for,
    wait_ready,
)
from tests.support.services import ChdbSession, ClickHouseEndpoint


@pytest.fixture
def api_environ(clickhouse_endpoint: ClickHouseEndpoint, ch_database: str) -> dict[str, str]:
    return environ_for(clickhouse_endpoint, ch_database)


@pytest.fixture
def secrets(ch_client: Any, ch_database: str) -> Secrets:
    """One token for each of two tenants."""

    def execute(sql: str, params: Any) -> Any:
        return ch_client.execute(sql, params)

    acme_id, acme = tokens.create(execute, ch_database, TENANT, "tests")
    _, globex = tokens.create(execute, ch_database, OTHER_TENANT, "tests")
    return Secrets(acme=acme, globex=globex, acme_id=acme_id)


@pytest.fixture
def app_factory(api_environ: dict[str, str]) -> Iterator[AppFactory]:
    """Serve an app with extra env settings (or kwargs of create_app); stopped after the test."""
    opened: list[tuple[LiveServer, httpx.Client]] = []

    def make(
        *, ready: bool = True, app_kwargs: dict[str, Any] | None = None, **env: str
    ) -> httpx.Client:
        config = ApiConfig.from_env({**api_environ, **env})
        server = LiveServer(create_app(config, **(app_kwargs or {})))
        client = httpx.Client(base_url=server.start(), timeout=30)
        opened.append((server, client))
        if ready:
            wait_ready(client)
        return client

    yield make
    for server, client in opened:
        client.close()
        server.stop()


@pytest.fixture
def api(app_factory: AppFactory, secrets: Secrets) -> httpx.Client:
    """The API on this test's database, served by uvicorn, tokens loaded."""
    return app_factory()


@pytest.fixture
def chdb(chdb_session: ChdbSession) -> Iterator[ChdbEngine]:
    """A fresh migrated database on the current engine (chdb)."""
    engine = ChdbEngine(chdb_session)
    yield engine
    engine.drop()


@pytest.fixture(
    params=[
        pytest.param("server", marks=pytest.mark.clickhouse),
        pytest.param("chdb", marks=pytest.mark.chdb),
    ]
)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn: the real server (18.16 locally) and current ClickHouse (chdb)."""
    if request.param == "server":
        return ServerEngine(
            request.getfixturevalue("ch_client"), request.getfixturevalue("ch_database")
        )
    chdb_engine: ChdbEngine = request.getfixturevalue("chdb")
    return chdb_engine
