"""Handles on the real services the tests use: a ClickHouse endpoint, the chdb session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
