"""A bounded pool of clickhouse-driver Clients: the only clickhouse-driver import of the API.

A Client holds one socket and is not thread-safe, while Starlette runs sync work on a thread
pool; so each query checks a Client out for its whole duration and gives it back after.

Where a query goes. On one server: ``VH_CLICKHOUSE_HOST``, else the ``VH_CLICKHOUSE_ALT_HOSTS``
in turn when it cannot be reached. On a cluster, a statement that reads one visitor's local
tables (``Statement.visitor``) goes to a replica of that visitor's shard (the shard map is
read from ``system.clusters``), the next replica when one is down; any other statement to
any node, as on one server. An endpoint that refused a connection is skipped for a few
seconds, so a dead replica costs one failed connect, not one per request.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from query_api.config import ApiConfig
from schemas.clickhouse.layout import CLUSTER_NODES, shard_map
from schemas.clickhouse.statements import Statement
from schemas.clickhouse.tables import shard_of

Endpoint = tuple[str, int]

#: How long an endpoint that could not be reached is passed over.
DOWN_FOR_S: Final = 3.0
#: Errors that say the node is not there (rather than that the query is wrong).
_UNREACHABLE: Final = (OSError, EOFError, ch_errors.NetworkError, ch_errors.SocketTimeoutError)


class DatabaseError(RuntimeError):
    """ClickHouse failed or could not be reached; the message is for logs, never for clients."""


class PoolTimeout(DatabaseError):
    """Every Client stayed checked out for longer than the wait allows."""


def _endpoints(host: str, port: int, alt_hosts: str) -> list[Endpoint]:
    found = [(host, port)]
    for item in filter(None, (a.strip() for a in alt_hosts.split(","))):
        name, _, number = item.rpartition(":")
        found.append((name, int(number)) if name and number.isdigit() else (item, port))
    return found


class ClientPool:
    """Up to ``config.pool_size`` Clients in all, created on demand, closed by :meth:`close`.

    Args:
        config: connection settings.
        checkout_timeout: seconds a request waits for a free Client before PoolTimeout.
    """

    def __init__(self, config: ApiConfig, checkout_timeout: float = 5.0) -> None:
        self._config = config
        ch = config.clickhouse
        self._any = _endpoints(ch.host, ch.port, ch.alt_hosts)
        self._cluster = ch.cluster or None
        self.checkout_timeout = checkout_timeout
        self._idle: dict[Endpoint, queue.LifoQueue[Client]] = {}
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._down: dict[Endpoint, float] = {}
        self._shards: list[list[Endpoint]] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _new_client(self, endpoint: Endpoint) -> Client:
        c, ch = self._config, self._config.clickhouse
        return Client(
            endpoint[0],
            port=endpoint[1],
            user=ch.user,
            password=ch.password,
            database=ch.database,
            connect_timeout=3,
            send_receive_timeout=c.query_timeout_seconds + 5,
            settings={"max_execution_time": c.query_timeout_seconds},
        )

    @contextmanager
    def client(self, endpoint: Endpoint | None = None) -> Iterator[Client]:
        """Check out a Client (of ``endpoint``, default the configured host) for this thread.
        Raises PoolTimeout when none frees up in time."""
        where = endpoint or self._any[0]
        if self._closed:
            raise DatabaseError("pool is closed")
        if not self._slots.acquire(timeout=self.checkout_timeout):
            raise PoolTimeout(f"no ClickHouse client free within {self.checkout_timeout}s")
        idle = self._idle.setdefault(where, queue.LifoQueue())
        try:
            client = idle.get_nowait()
        except queue.Empty:
            client = self._new_client(where)
        healthy = False
        try:
            yield client
            healthy = True
        finally:
            if healthy and not self._closed:
                idle.put(client)
            else:
                # A failed query may leave unread packets on the socket: never reuse it.
                client.disconnect()
            self._slots.release()

    def run(self, statement: Statement, *, query_id: str | None = None) -> list[tuple[Any, ...]]:
        """Run a statement where it must run (its visitor's shard on a cluster)."""
        return self.execute(
            statement.sql,
            statement.params,
            query_id=query_id,
            settings=statement.settings,
            visitor=statement.visitor,
        )

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        query_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
        visitor: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one statement with bound ``params``; rows as tuples. Raises DatabaseError.

        ``visitor``: on a cluster, run it on a replica of the shard holding that visitor.
        """
        candidates = self._candidates(visitor)
        last: Exception | None = None
        for endpoint in candidates:
            try:
                with self.client(endpoint) as client:
                    rows = client.execute(
                        sql, params, query_id=query_id or "", settings=dict(settings or {})
                    )
            except DatabaseError:
                raise
            except _UNREACHABLE as exc:
                self._down[endpoint] = time.monotonic() + DOWN_FOR_S
                last = exc
                continue
            except ch_errors.Error as exc:
                raise DatabaseError(f"{type(exc).__name__}: {exc}") from exc
            self._down.pop(endpoint, None)
            return list(rows) if isinstance(rows, list) else []
        raise DatabaseError(
            f"no ClickHouse node reachable of {candidates}: {type(last).__name__}: {last}"
        ) from last

    def _candidates(self, visitor: str | None) -> list[Endpoint]:
        """Endpoints to try in order: the live ones first, those recently down last."""
        if visitor is not None and self._cluster is not None:
            shards = self.shards()
            endpoints = shards[shard_of(visitor, len(shards))]
        else:
            endpoints = self._any
        now = time.monotonic()
        return sorted(endpoints, key=lambda e: self._down.get(e, 0.0) > now)

    def shards(self) -> list[list[Endpoint]]:
        """The cluster's replicas by shard, in ``remote_servers`` order (read once)."""
        with self._lock:
            if self._shards is None:
                rows = self.execute(CLUSTER_NODES, {"cluster": self._cluster})
                try:
                    self._shards = shard_map(rows)
                except ValueError as exc:
                    raise DatabaseError(f"cluster {self._cluster!r}: {exc}") from exc
            return self._shards

    def on_replicas(self, visitor: str, sql: str) -> int:
        """Run ``sql`` on every reachable replica of the visitor's shard (one server: on it);
        how many ran it. For ``SYSTEM SYNC REPLICA``: a write is then on each of them."""
        if self._cluster is None:
            self.execute(sql)
            return 1
        shards = self.shards()
        done = 0
        for endpoint in shards[shard_of(visitor, len(shards))]:
            try:
                with self.client(endpoint) as client:
                    client.execute(sql)
                done += 1
            except _UNREACHABLE:  # down: it catches up from its peer when it returns
                self._down[endpoint] = time.monotonic() + DOWN_FOR_S
            except ch_errors.Error as exc:
                raise DatabaseError(f"{type(exc).__name__}: {exc}") from exc
        if not done:
            raise DatabaseError(f"no replica of {visitor!r}'s shard reachable")
        return done

    def close(self) -> None:
        """Disconnect idle Clients; Clients in use are disconnected when given back."""
        self._closed = True
        for idle in self._idle.values():
            while True:
                try:
                    idle.get_nowait().disconnect()
                except queue.Empty:
                    break
