"""The only door from the webhooks side to ClickHouse (its only clickhouse-driver import).

One :class:`ClickHouseStore` owns one driver ``Client`` and is used from one thread at a
time (the process gives it a one-thread executor). Every driver or network failure becomes
:class:`~webhooks.errors.StoreUnavailable` and drops the connection, so the next call
reconnects; callers decide when to retry.
"""

from __future__ import annotations

from typing import Any

from clickhouse_driver import Client

from schemas.env import ClickHouseSettings
from schemas.resources import Closing
from webhooks.errors import StoreUnavailable


class ClickHouseStore(Closing):
    """Runs the webhooks' statements (bound parameters only) on ``settings``' server."""

    def __init__(self, settings: ClickHouseSettings, *, timeout_s: float = 30.0) -> None:
        self.layout = settings.layout
        self.endpoint = settings.endpoint
        self._client = Client(
            settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password,
            database="default",
            connect_timeout=3.0,
            send_receive_timeout=timeout_s,
            **({"alt_hosts": settings.alt_hosts} if settings.alt_hosts else {}),
        )

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement (``params``: a mapping, or rows for an INSERT ... VALUES).

        Raises:
            StoreUnavailable: the server refused or could not be reached.
        """
        try:
            rows: list[tuple[Any, ...]] = self._client.execute(sql, params or {})
        except Exception as exc:
            self._client.disconnect()
            raise StoreUnavailable(self.endpoint, exc) from exc
        return rows

    def close(self) -> None:
        self._client.disconnect()
