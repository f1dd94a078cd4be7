"""The only door from the ingest side to ClickHouse (the only clickhouse-driver import here).

One :class:`ClickHouseWriter` owns one driver ``Client`` and is used from one thread. Every
driver or network failure becomes :class:`~ingest.errors.ClickHouseUnavailable` and drops the
connection so the next call reconnects; the *caller* decides when to retry (see
``ingest.backoff``), because the consumer must keep polling Kafka meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_driver import Client

from ingest import statements
from ingest.config import IngestConfig
from ingest.errors import ClickHouseUnavailable
from ingest.rows import Row, to_columns
from schemas.clickhouse.layout import CLUSTER_NODES, Layout, shard_map
from schemas.clickhouse.migrations import ServerFeatures
from schemas.clickhouse.statements import SYNC_DISTRIBUTED, Statement
from schemas.clickhouse.tables import shard_of
from schemas.resources import Closing

logger = logging.getLogger(__name__)


# Monthly partitions between 2000-01 (the oldest timestamp accepted) and well past now.
MAX_PARTITIONS_PER_INSERT = 1000


class ClickHouseWriter(Closing):
    """Inserts visit batches and runs the few statements the ingest side needs.

    Args:
        host, port, user, password: the native-protocol endpoint.
        database: where ``visits`` lives; a plain identifier (statements name it explicitly,
            so the connection itself stays on ``default`` and works before ``migrate``).
        cluster: the cluster the schema is sharded over (``VH_CLICKHOUSE_CLUSTER``), or None.
        alt_hosts: ``host:port,...`` the driver fails over to when ``host`` is down.
    Raises:
        ValueError: ``database`` or ``cluster`` is not a plain identifier.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str = "default",
        password: str = "",
        database: str = "visit_history",
        cluster: str | None = None,
        alt_hosts: str = "",
        connect_timeout: float = 3.0,
        send_receive_timeout: float = 60.0,
    ) -> None:
        self.layout = Layout(database, cluster or None)
        self.endpoint = f"{host}:{port}" + (f" (or {alt_hosts})" if alt_hosts else "")
        self.database = database
        self._client = Client(
            host,
            port=port,
            user=user,
            password=password,
            database="default",
            connect_timeout=connect_timeout,
            send_receive_timeout=send_receive_timeout,
            **({"alt_hosts": alt_hosts} if alt_hosts else {}),
        )
        self._features: ServerFeatures | None = None
        self._insert_sql = statements.insert_visits(self.layout)
        self._connection = {
            "user": user,
            "password": password,
            "connect_timeout": connect_timeout,
            "send_receive_timeout": send_receive_timeout,
        }
        self._shards: list[Client] | None = None

    @classmethod
    def from_config(cls, config: IngestConfig) -> ClickHouseWriter:
        ch = config.clickhouse
        return cls(
            ch.host,
            ch.port,
            user=ch.user,
            password=ch.password,
            database=ch.database,
            cluster=ch.cluster or None,
            alt_hosts=ch.alt_hosts,
        )

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement with bound parameters; return its rows.

        Raises:
            ClickHouseUnavailable: any failure (network, server error), with the endpoint.
        """
        try:
            return list(self._client.execute(sql, params))
        except Exception as exc:
            self._client.disconnect()
            raise ClickHouseUnavailable(self.endpoint, exc) from exc

    def run(self, statement: Statement) -> list[tuple[Any, ...]]:
        """Run a statement (``ingest.statements``) with its parameters and settings; on a
        cluster, one that names a visitor on a replica of that visitor's shard.

        Raises:
            ClickHouseUnavailable: any failure (network, server error), with the endpoint.
        """
        client = self._client
        if statement.visitor is not None and self.layout.cluster is not None:
            shards = self._shard_clients()
            client = shards[shard_of(statement.visitor, len(shards))]
        try:
            return list(
                client.execute(statement.sql, statement.params, settings=dict(statement.settings))
            )
        except Exception as exc:
            client.disconnect()
            raise ClickHouseUnavailable(self.endpoint, exc) from exc

    def on_each_shard(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run ``sql`` on one replica of every shard (one server: on it): how an ALTER of a
        replicated table reaches the whole cluster (replication copies it within a shard).

        Raises:
            ClickHouseUnavailable: a shard failed it (those before may have run it).
        """
        if self.layout.cluster is None:
            return self.execute(sql, params)
        out: list[Any] = []
        for client in self._shard_clients():
            try:
                out += client.execute(sql, params)
            except Exception as exc:
                client.disconnect()
                raise ClickHouseUnavailable(self.endpoint, exc) from exc
        return out

    def _shard_clients(self) -> list[Client]:
        """A client per shard: its first replica, failing over to the others."""
        if self._shards is None:
            rows = self.execute(CLUSTER_NODES, {"cluster": self.layout.cluster})
            self._shards = [
                Client(
                    replicas[0][0],
                    port=replicas[0][1],
                    database="default",
                    alt_hosts=",".join(f"{h}:{p}" for h, p in replicas[1:]) or None,
                    **self._connection,
                )
                for replicas in shard_map(rows)
            ]
        return self._shards

    def features(self) -> ServerFeatures:
        """What the server supports (asked once per writer, from ``version()``)."""
        if self._features is None:
            self._features = ServerFeatures.from_version(
                str(self.execute("SELECT version()")[0][0])
            )
        return self._features

    def insert_visits(self, rows: Sequence[Row], dedup_token: str, *, retry: bool = False) -> None:
        """Insert rows (in ``rows.COLUMNS`` order) into ``visits`` as one columnar block.

        ``dedup_token`` becomes ``insert_deduplication_token`` where the server has it (22.2+;
        migration 004 gives the table a deduplication window), so an insert retried after a
        lost acknowledgement is dropped by the server instead of stored twice. Older servers
        rely on the ReplacingMergeTree plus the readers' ``LIMIT 1 BY request_id``.

        On a cluster the block goes to the Distributed ``visits``, synchronously: the insert
        returns only once every shard's replica it reached stored its rows (so the offsets
        committed after it are durable on their shard), and a retried identical block is
        split identically, so each shard's replicated table drops its part of it as a
        duplicate (on 18.16 too: Replicated tables deduplicate blocks by their checksum).

        ``retry``: this block's previous attempt was not acknowledged. That attempt may have
        stored the block in ``visits`` and not in a view's table (a replica killed between
        the two writes); ClickHouse then drops the retry as a duplicate, and before 20.1 it
        skips the views of a dropped block too, so they would lack those rows for ever (the
        API reads pages from ``visit_pages``). From 20.1 the views are asked to take the
        block and deduplicate it themselves; before, a retry is stored without block
        deduplication: copies, which every table fed by ``visits`` tolerates (Kafka's
        redelivery makes them anyway) and every reader hides.

        Raises:
            ClickHouseUnavailable: the insert was not acknowledged (it may or may not be stored).
        """
        if not rows:
            return
        settings: dict[str, Any] = dict(SYNC_DISTRIBUTED) if self.layout.cluster else {}
        if self.features().insert_dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        if self.features().view_dedup:
            settings["deduplicate_blocks_in_dependent_materialized_views"] = 1
        elif retry:
            settings["insert_deduplicate"] = 0
        if self.features().modern_types:
            # Current servers refuse a block touching more than 100 partitions by default, and
            # a refused batch would be retried forever: one collector sending timestamps over
            # the years it may (2000 to now) would wedge its partition. 18.16 has no limit.
            settings["max_partitions_per_insert_block"] = MAX_PARTITIONS_PER_INSERT
        try:
            self._client.execute(
                self._insert_sql, to_columns(rows), columnar=True, settings=settings
            )
        except Exception as exc:
            self._client.disconnect()
            raise ClickHouseUnavailable(self.endpoint, exc) from exc

    def close(self) -> None:
        self._client.disconnect()
        for client in self._shards or []:
            client.disconnect()
