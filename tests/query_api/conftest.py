"""Fixtures of the query API tests: a config on the test's database, tokens, a live app."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from query_api import tokens
from query_api.app import create_app
from query_api.config import ApiConfig
from tests.conftest import ChdbSession, ClickHouseEndpoint

# An ingest worker in a thread, for the end-to-end test through Kafka.
from tests.ingest.conftest import start_worker  # noqa: F401 (a fixture, re-exported)
from tests.query_api.engines import ChdbEngine, Engine, ServerEngine

TENANT = "acme"
OTHER_TENANT = "globex"


@dataclass(frozen=True)
class Secrets:
    acme: str
    globex: str
    acme_id: str


def now_ms() -> int:
    """The wall clock in epoch ms, never on a whole second.

    Test visits are placed relative to it: a whole-second "now" would make their timestamps
    whole seconds too, the one case where a DateTime64(3) column and whole-second bounds agree.
    """
    ms = time.time_ns() // 1_000_000
    return ms if ms % 1000 else ms + 1


def environ_for(endpoint: ClickHouseEndpoint, database: str, **extra: str) -> dict[str, str]:
    return {
        "VH_CLICKHOUSE_HOST": endpoint.host,
        "VH_CLICKHOUSE_PORT": str(endpoint.port),
        "VH_CLICKHOUSE_USER": endpoint.user,
        "VH_CLICKHOUSE_PASSWORD": endpoint.password,
        "VH_CLICKHOUSE_DATABASE": database,
        "VH_API_POOL_SIZE": "4",
        "VH_API_TOKEN_REFRESH_SECONDS": "0.2",
        **extra,
    }


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


class LiveServer:
    """The app served by a real uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 10
    while client.get("/ready").status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail("the API did not become ready")
        time.sleep(0.05)


AppFactory = Callable[..., httpx.Client]


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
