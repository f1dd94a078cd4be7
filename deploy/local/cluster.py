"""The loopback cluster: ZooKeeper, three Kafka nodes, and ClickHouse shards of replicas, all
on 127.0.0.1 with their own ports (``deploy/cluster/loopback.toml``) and data under
``var/cluster/``. Idempotent like the local stack: started once, found again by pid, stopped
by pid. Memory: about 4 GiB in all (three 512 MiB Kafka heaps, ZooKeeper, four servers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy.cluster import Topology, clickhouse_files, kafka_properties
from deploy.local import clickhouse, kafka, zookeeper
from deploy.local.settings import StackSettings

KAFKA_HEAP = "512m"


@dataclass(frozen=True)
class Cluster:
    """The nodes of a topology, as local processes under ``home``."""

    topology: Topology
    home: Path
    cache_dir: Path
    clickhouse_binary: str

    @classmethod
    def local(cls, s: StackSettings, topology: Topology | None = None) -> Cluster:
        return cls(
            topology or Topology.load(), s.var_dir / "cluster", s.cache_dir, s.clickhouse_binary
        )

    def zookeeper(self) -> zookeeper.Server:
        node = self.topology.zookeeper[0]
        return zookeeper.Server(self.home / "zookeeper", node.port, self.cache_dir)

    def kafka_nodes(self, *, formatting: bool = False) -> list[kafka.Node]:
        """The Kafka nodes; ``formatting``: with the cluster id their storage is formatted
        with (made once, on the first start)."""
        cluster_id = self._cluster_id() if formatting else None
        props = kafka_properties(self.topology)
        voters = props.pop("controller.quorum.voters")
        return [
            kafka.Node(
                self.home / f"kafka-{n.id}",
                n.port,
                n.controller_port,
                self.cache_dir,
                KAFKA_HEAP,
                node_id=n.id,
                voters=voters,
                cluster_id=cluster_id,
                extra=props,
            )
            for n in self.topology.kafka
        ]

    def clickhouse_servers(self) -> list[clickhouse.Server]:
        return [
            clickhouse.Server(
                self.home / f"clickhouse-{replica.name}",
                replica.port,
                replica.http_port,
                self.clickhouse_binary,
                clickhouse_files(self.topology, shard, replica),
            )
            for shard, replica in self.topology.replicas()
        ]

    def _cluster_id(self) -> str:
        # Every node's storage is formatted with the same id, kept so that a node formatted
        # later (its data dir deleted) still joins.
        path = self.home / "kafka-cluster-id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(kafka.new_cluster_id() + "\n")
        return path.read_text().strip()


def start(c: Cluster) -> list[str]:
    """Start whatever is not running; wait until every node answers. Lines to print."""
    zk = zookeeper.start(c.zookeeper())
    lines = [f"zookeeper        up  pid {zk}  127.0.0.1:{c.zookeeper().port}"]
    # A static quorum forms only once a majority runs: start all, then wait for each.
    nodes = c.kafka_nodes(formatting=True)
    pids = [kafka.spawn(n) for n in nodes]
    servers = c.clickhouse_servers()
    ch_pids = [clickhouse.spawn(s) for s in servers]
    for n, pid in zip(nodes, pids, strict=True):
        kafka.wait_ready(n, pid, timeout=120.0)
        lines.append(f"kafka-{n.node_id}          up  pid {pid}  {n.bootstrap}")
    for s, pid in zip(servers, ch_pids, strict=True):
        clickhouse.wait_ready(s, pid)
        lines.append(f"{s.home.name:<16} up  pid {pid}  native 127.0.0.1:{s.tcp_port}")
    lines.append(f"bootstrap {c.topology.bootstrap}  cluster {c.topology.name}")
    return lines


def stop(c: Cluster) -> list[str]:
    """Stop every node (ClickHouse first, ZooKeeper last)."""
    lines = []
    for s in c.clickhouse_servers():
        lines.append(f"{s.home.name:<16} {'stopped' if clickhouse.stop(s) else 'was not running'}")
    for n in c.kafka_nodes():
        lines.append(f"kafka-{n.node_id:<10} {'stopped' if kafka.stop(n) else 'was not running'}")
    lines.append(
        f"zookeeper        {'stopped' if zookeeper.stop(c.zookeeper()) else 'was not running'}"
    )
    return lines


def status(c: Cluster) -> list[str]:
    found = [("zookeeper", zookeeper.running_pid(c.zookeeper()))]
    found += [(f"kafka-{n.node_id}", kafka.running_pid(n)) for n in c.kafka_nodes()]
    found += [(s.home.name, clickhouse.running_pid(s)) for s in c.clickhouse_servers()]
    return [
        f"{name:<16} {'running pid ' + str(pid) if pid else 'not running'}" for name, pid in found
    ]


__all__ = ["Cluster", "start", "status", "stop"]
