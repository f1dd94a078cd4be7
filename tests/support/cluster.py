"""Cluster test helpers: the loopback cluster's nodes, clients of each, settings of a worker
and an API on it, and what each replica stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.cluster import Replica, Topology
from deploy.local import cluster
from schemas.env import ClickHouseSettings

CLUSTER = "vh_cluster"


@dataclass
class Nodes:
    """The running loopback cluster."""

    c: cluster.Cluster

    @property
    def topology(self) -> Topology:
        return self.c.topology

    @property
    def bootstrap(self) -> str:
        return self.topology.bootstrap

    def replicas(self) -> list[tuple[int, Replica]]:
        """(shard from 1, replica) of every ClickHouse node."""
        return list(self.topology.replicas())

    def client(self, index: int, database: str = "default") -> Any:
        """A clickhouse-driver Client of the ``index``-th node (the caller disconnects)."""
        from clickhouse_driver import Client

        _, replica = self.replicas()[index]
        return Client(replica.host, port=replica.port, database=database)

    def settings(self, database: str, first: int = 0) -> ClickHouseSettings:
        """VH_CLICKHOUSE_* of a process on the cluster: one node, the others to fail over to."""
        nodes = [r for _, r in self.replicas()]
        main, others = nodes[first], nodes[:first] + nodes[first + 1 :]
        return ClickHouseSettings(
            main.host,
            main.port,
            database=database,
            cluster=CLUSTER,
            alt_hosts=",".join(f"{r.host}:{r.port}" for r in others),
        )

    def environ(self, database: str, first: int = 0) -> dict[str, str]:
        s = self.settings(database, first)
        return {
            "VH_CLICKHOUSE_HOST": s.host,
            "VH_CLICKHOUSE_PORT": str(s.port),
            "VH_CLICKHOUSE_DATABASE": s.database,
            "VH_CLICKHOUSE_CLUSTER": s.cluster,
            "VH_CLICKHOUSE_ALT_HOSTS": s.alt_hosts,
            "VH_KAFKA_BOOTSTRAP": self.bootstrap,
        }

    def stored(self, database: str, table: str = "visits_local") -> list[int]:
        """Rows of ``table`` on each node, in replica order."""
        counts = []
        for i in range(len(self.replicas())):
            client = self.client(i)
            try:
                counts.append(int(client.execute(f"SELECT count() FROM {database}.{table}")[0][0]))
            finally:
                client.disconnect()
        return counts
