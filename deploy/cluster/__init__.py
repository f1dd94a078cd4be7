"""A cluster's topology (one TOML file) and the server configs rendered from it.

The templates beside this module (``clickhouse/*.xml``, ``kafka/cluster.properties``) are the
files a production deployment uses; only the topology differs: ``loopback.toml`` puts every
node on 127.0.0.1 for ``vh stack up --cluster`` and the tests, a production one names real
hosts. :func:`clickhouse_files` and :func:`kafka_properties` are pure.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOOPBACK = HERE / "loopback.toml"


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class KafkaNode:
    id: int
    host: str
    port: int
    controller_port: int


@dataclass(frozen=True, slots=True)
class Replica:
    name: str
    host: str
    port: int
    http_port: int
    interserver_port: int

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port)


@dataclass(frozen=True, slots=True)
class Topology:
    """Nodes of a cluster: ZooKeeper, Kafka, and ClickHouse shards of replicas."""

    name: str
    zookeeper: tuple[Endpoint, ...]
    kafka: tuple[KafkaNode, ...]
    replication_factor: int
    min_insync_replicas: int
    shards: tuple[tuple[Replica, ...], ...]

    @classmethod
    def load(cls, path: Path = LOOPBACK) -> Topology:
        """Read a topology file (see ``loopback.toml``). Raises ValueError when malformed."""
        try:
            raw: dict[str, Any] = tomllib.loads(path.read_text())
            kafka = raw["kafka"]
            topology = cls(
                name=str(raw["name"]),
                zookeeper=tuple(Endpoint(**n) for n in raw["zookeeper"]["nodes"]),
                kafka=tuple(KafkaNode(**n) for n in kafka["nodes"]),
                replication_factor=int(kafka["replication_factor"]),
                min_insync_replicas=int(kafka["min_insync_replicas"]),
                shards=tuple(
                    tuple(Replica(**r) for r in shard["replicas"])
                    for shard in raw["clickhouse"]["shards"]
                ),
            )
        except (KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"topology {path}: {exc}") from exc
        if not topology.shards or any(not s for s in topology.shards):
            raise ValueError(f"topology {path}: every shard needs at least one replica")
        return topology

    @property
    def bootstrap(self) -> str:
        """``VH_KAFKA_BOOTSTRAP`` of clients: every broker."""
        return ",".join(f"{n.host}:{n.port}" for n in self.kafka)

    def replicas(self) -> list[tuple[int, Replica]]:
        """(shard number from 1, replica) of every ClickHouse node."""
        return [(i + 1, r) for i, shard in enumerate(self.shards) for r in shard]


def _template(name: str) -> str:
    return (HERE / name).read_text()


def clickhouse_files(topology: Topology, shard: int, replica: Replica) -> dict[str, str]:
    """The ``config.d/`` files of one ClickHouse node (file name -> XML)."""
    replica_t, shard_t = _template("clickhouse/replica.xml"), _template("clickhouse/shard.xml")
    shards = "".join(
        shard_t.format(
            replicas="".join(replica_t.format(host=r.host, port=r.port) for r in s).rstrip("\n")
        )
        for s in topology.shards
    )
    node_t = _template("clickhouse/zookeeper_node.xml")
    zookeeper = "".join(node_t.format(host=z.host, port=z.port) for z in topology.zookeeper)
    return {
        "remote_servers.xml": _template("clickhouse/remote_servers.xml").format(
            cluster=topology.name, shards=shards.rstrip("\n")
        ),
        "zookeeper.xml": _template("clickhouse/zookeeper.xml").format(nodes=zookeeper.rstrip("\n")),
        "macros.xml": _template("clickhouse/macros.xml").format(
            shard=f"{shard:02d}",
            replica=replica.name,
            host=replica.host,
            interserver_port=replica.interserver_port,
        ),
    }


def kafka_properties(topology: Topology) -> dict[str, str]:
    """The cluster part of every Kafka node's ``server.properties`` (key -> value)."""
    voters = ",".join(f"{n.id}@{n.host}:{n.controller_port}" for n in topology.kafka)
    text = _template("kafka/cluster.properties").format(
        voters=voters,
        replication_factor=topology.replication_factor,
        min_insync_replicas=topology.min_insync_replicas,
    )
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}
