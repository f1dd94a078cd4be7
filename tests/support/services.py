"""Handles on the real services the tests use: a ClickHouse endpoint, the chdb session."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.local.settings import StackSettings


@dataclass(frozen=True)
class ClickHouseEndpoint:
    host: str
    port: int
    user: str = "default"
    password: str = ""

    def client(self, database: str = "default", **settings: Any) -> Any:
        from clickhouse_driver import Client

        return Client(
            self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            settings=settings or None,
        )


class ChdbSession:
    """The current ClickHouse engine, in-process (chdb), with an execute() like the driver's."""

    def __init__(self) -> None:
        from chdb import session

        self._session = session.Session()

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run ``sql``; ``params`` are substituted client-side, as clickhouse-driver does."""
        import json

        if params:
            from clickhouse_driver.util.escape import escape_params

            sql = sql % escape_params(params, None)
        result = self._session.query(sql, "JSONCompact")
        text = result.bytes()
        if not text:
            return []
        return [tuple(row) for row in json.loads(text)["data"]]

    def close(self) -> None:
        self._session.close()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_stack_settings(var_dir: Path, *, clickhouse: bool = True) -> StackSettings:
    """A stack of its own for a test that stops or reconfigures services: its own var dir
    and free ports, the shared jar cache (resolved once), a small Kafka heap."""
    ports = {
        "VH_KAFKA_PORT": str(free_port()),
        "VH_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    if clickhouse:
        ports |= {
            "VH_CLICKHOUSE_PORT": str(free_port()),
            "VH_CLICKHOUSE_HTTP_PORT": str(free_port()),
        }
    return StackSettings.from_env(
        {
            **os.environ,
            "VH_VAR_DIR": str(var_dir),
            "VH_CACHE_DIR": str(StackSettings.from_env().cache_dir),
            "VH_KAFKA_HEAP": "512m",
            **ports,
        }
    )
