"""``vh stack up|down|status [--cluster]`` and ``vh stack render``: the local services.

The single-node stack (``make up``): one Kafka node and Debian's ClickHouse on loopback. The
loopback cluster (``--cluster``, ``make cluster-up``): ZooKeeper, three Kafka nodes, 2 x 2
ClickHouse servers. ``render`` writes the server configs of any topology (production hosts
included) from the same templates.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deploy.cluster import Topology, clickhouse_files, kafka_properties
from deploy.local import clickhouse, cluster, kafka
from deploy.local.settings import StackSettings
from vh.commands import Subparsers, command


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "stack",
        run,
        "start, stop or show the local Kafka and ClickHouse (or the loopback cluster)",
        "Provision and run the services on loopback, idempotently, data under VH_VAR_DIR.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, summary in (
        ("up", "start what is not running (idempotent)"),
        ("down", "stop everything started"),
        ("status", "which services run"),
    ):
        action = actions.add_parser(name, help=summary)
        action.add_argument(
            "--cluster", action="store_true", help="the loopback cluster instead of one node"
        )
        action.add_argument("--topology", type=Path, default=None, help=argparse.SUPPRESS)
    render = actions.add_parser("render", help="write every node's config for a topology")
    render.add_argument("--topology", type=Path, required=True, help="a topology .toml")
    render.add_argument("--out", type=Path, required=True, help="directory to write into")


def run(args: argparse.Namespace) -> int:
    if args.action == "render":
        for line in _render(Topology.load(args.topology), args.out):
            print(line)
        return 0
    s = StackSettings.from_env(args.environ)
    if args.cluster:
        c = cluster.Cluster.local(s, Topology.load(args.topology) if args.topology else None)
        act = {"up": cluster.start, "down": cluster.stop, "status": cluster.status}[args.action]
        for line in act(c):
            print(line)
        return 0
    if args.action == "up":
        kpid = kafka.start(s)
        print(f"kafka      up  pid {kpid}  bootstrap {s.kafka_bootstrap}  log {kafka.log_file(s)}")
        cpid = clickhouse.start(s)
        print(
            f"clickhouse up  pid {cpid}  native 127.0.0.1:{s.clickhouse_port}  "
            f"http 127.0.0.1:{s.clickhouse_http_port}  log {clickhouse.log_file(s).parent}"
        )
    elif args.action == "down":
        for name, stopped in (("kafka", kafka.stop(s)), ("clickhouse", clickhouse.stop(s))):
            print(f"{name:<10} {'stopped' if stopped else 'was not running'}")
    else:
        for name, pid in (
            ("kafka", kafka.running_pid(s)),
            ("clickhouse", clickhouse.running_pid(s)),
        ):
            print(f"{name:<10} {f'running pid {pid}' if pid else 'not running'}")
    return 0


def _render(topology: Topology, out: Path) -> list[str]:
    """Each ClickHouse node's config.d/ and the Kafka nodes' cluster properties."""
    written = []
    for shard, replica in topology.replicas():
        node = out / "clickhouse" / replica.name / "config.d"
        node.mkdir(parents=True, exist_ok=True)
        for name, text in clickhouse_files(topology, shard, replica).items():
            (node / name).write_text(text)
            written.append(str(node / name))
    props = out / "kafka" / "cluster.properties"
    props.parent.mkdir(parents=True, exist_ok=True)
    props.write_text("".join(f"{k}={v}\n" for k, v in kafka_properties(topology).items()))
    written.append(str(props))
    return written
