"""A bounded pool of clickhouse-driver Clients: the only clickhouse-driver import of the API.

A Client holds one socket and is not thread-safe, while Starlette runs sync work on a thread
pool; so each query checks a Client out for its whole duration and gives it back after.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from query_api.config import ApiConfig


class DatabaseError(RuntimeError):
    """ClickHouse failed or could not be reached; the message is for logs, never for clients."""


class PoolTimeout(DatabaseError):
    """Every Client stayed checked out for longer than the wait allows."""


class ClientPool:
    """Up to ``config.pool_size`` Clients, created on demand, closed by :meth:`close`.

    Args:
        config: connection settings.
        checkout_timeout: seconds a request waits for a free Client before PoolTimeout.
    """

    def __init__(self, config: ApiConfig, checkout_timeout: float = 5.0) -> None:
        self._config = config
        self._timeout = checkout_timeout
        self._idle: queue.LifoQueue[Client] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._closed = False

    def _new_client(self) -> Client:
        c, ch = self._config, self._config.clickhouse
        return Client(
            ch.host,
            port=ch.port,
            user=ch.user,
            password=ch.password,
            database=ch.database,
            connect_timeout=3,
            send_receive_timeout=c.query_timeout_seconds + 5,
            settings={"max_execution_time": c.query_timeout_seconds},
        )

    @contextmanager
    def client(self) -> Iterator[Client]:
        """Check out a Client for this thread. Raises PoolTimeout when none frees up in time."""
        if self._closed:
            raise DatabaseError("pool is closed")
        if not self._slots.acquire(timeout=self._timeout):
            raise PoolTimeout(f"no ClickHouse client free within {self._timeout}s")
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._new_client()
        healthy = False
        try:
            yield client
            healthy = True
        finally:
            if healthy and not self._closed:
                self._idle.put(client)
            else:
                # A failed query may leave unread packets on the socket: never reuse it.
                client.disconnect()
            self._slots.release()

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        query_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one statement with bound ``params``; rows as tuples. Raises DatabaseError."""
        try:
            with self.client() as client:
                rows = client.execute(
                    sql, params, query_id=query_id or "", settings=dict(settings or {})
                )
        except DatabaseError:
            raise
        except (ch_errors.Error, OSError, EOFError) as exc:
            raise DatabaseError(f"{type(exc).__name__}: {exc}") from exc
        return list(rows) if isinstance(rows, list) else []

    def close(self) -> None:
        """Disconnect idle Clients; Clients in use are disconnected when given back."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().disconnect()
            except queue.Empty:
                return
