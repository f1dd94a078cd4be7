"""Ingestion on the loopback cluster next to the single node, in the same run.

One ``vh worker`` consumes the same demo events from a 6-partition topic on the three-node
Kafka (replication factor 3, ``min.insync.replicas`` 2) into the cluster schema (2 shards x 2
replicas, inserts through ``Distributed``, synchronously). Same machine, same 2 cores as the
single-node runs: no speed-up is expected; the ratio is the cost of replication (every row
written twice, every message three times, five servers sharing the cores).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from bench import bench_ingest, topics
from deploy.cluster import Topology
from deploy.local import cluster
from deploy.local.settings import StackSettings
from enrich.config import EnrichConfig
from ingest.kafka_clients import ensure_topics
from schemas.clickhouse import migrations

#: At most this many events on the cluster (the fill and the replicated writes are slow).
CAP = 500_000


@dataclass(frozen=True)
class ClusterResults:
    events: int
    run: bench_ingest.Run
    nodes: str


class ClusterEnv(bench_ingest.Env):
    """The run's topic and database on the loopback cluster."""

    def __init__(self, run_id: str, topology: Topology) -> None:
        first = topology.shards[0][0]
        super().__init__(f"{run_id}c", topology.bootstrap, first.host, first.port)
        self.topology = topology

    def worker_env(self, group: str, port: int) -> dict[str, str]:
        others = [r for _, r in self.topology.replicas()][1:]
        return super().worker_env(group, port) | {
            "VH_CLICKHOUSE_CLUSTER": self.topology.name,
            "VH_CLICKHOUSE_ALT_HOSTS": ",".join(f"{r.host}:{r.port}" for r in others),
        }

    def truncate(self) -> None:  # a fresh database per run: nothing to empty
        return None

    def cleanup(self) -> None:
        topics.delete_topics(self.bootstrap, [self.topic, self.dlq])
        self.ch.execute(f"DROP DATABASE IF EXISTS {self.database} ON CLUSTER {self.topology.name}")
        self.ch.disconnect()


def run(
    run_id: str,
    events: int,
    enrich: EnrichConfig,
    progress: Callable[[str], None],
    status: Callable[[str], None],
) -> ClusterResults:
    """Start the loopback cluster if needed, fill its topic, time one worker through it."""
    topology = Topology.load()
    progress("starting the loopback cluster (if not running)")
    cluster.start(cluster.Cluster.local(StackSettings.from_env(os.environ), topology))
    env = ClusterEnv(run_id, topology)
    try:
        migrations.apply(
            lambda sql: env.ch.execute(sql), env.database, cluster=topology.name,
            log=lambda _m: None,
        )  # fmt: skip
        ensure_topics(env.bootstrap, {env.topic: 6, env.dlq: 1}, replication=3, min_insync=2)
        count = min(events, CAP)
        progress(f"publishing {count:,} demo events to the cluster (replication factor 3)")
        topics.fill(
            env.bootstrap,
            env.topic,
            count,
            enrich,
            visitors=max(count // 10, 1),
            progress=lambda n: status(f"published {n:,}/{count:,}"),
        )
        total = sum(topics.end_offsets(env.bootstrap, env.topic).values())
        measured, _ = bench_ingest.run_workers(
            env, [bench_ingest.VH, "worker"], 1, "cluster", total, status
        )
        stored = env.stored()
        if stored < total:
            raise RuntimeError(f"cluster: {stored:,} rows stored of {total:,}")
        progress(f"cluster workers1: {measured.rate:,.0f} events/s ({total:,} events)")
        return ClusterResults(total, measured, f"{len(topology.kafka)} Kafka nodes, "
                              f"{len(topology.shards)} shards x {len(topology.shards[0])} "
                              "replicas")  # fmt: skip
    finally:
        env.cleanup()


def render(res: ClusterResults, single_rate: float) -> str:
    ratio = res.run.rate / single_rate if single_rate else 0.0
    return "\n".join(
        [
            "## Cluster",
            "",
            f"One `vh worker` on the loopback cluster ({res.nodes}: `deploy/cluster/"
            "loopback.toml`), topic replication factor 3 with `min.insync.replicas` 2, inserts "
            f"through `Distributed` synchronously: {res.events:,} demo events.",
            "",
            "| where | events/s | ratio |",
            "|---|---|---|",
            f"| single node (workers1 above, median) | {single_rate:,.0f} | 1.00 |",
            f"| loopback cluster | {res.run.rate:,.0f} | {ratio:.2f} |",
            "",
            "Same machine, same 2 cores: the cluster's five servers and three brokers share them, "
            "every row is written to two replicas and every message to three brokers, so no "
            "speed-up is expected; the ratio is the cost of replication on one box, not the "
            "throughput of a real cluster (docs/scaling.md).",
            "",
        ]
    )
