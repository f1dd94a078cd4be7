"""API test helpers: tenants and tokens, the environment of an app on a test database, the
app served by a real uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from tests.support.services import ClickHouseEndpoint

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
