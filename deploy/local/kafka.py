"""Apache Kafka in KRaft mode on loopback: jars from Maven Central, combined nodes.

A node runs straight from the official jars (`org.apache.kafka:kafka_2.13`) with the
machine's Java 17; no distribution tarball, no Docker. The local stack is one node (a
single-voter quorum); the loopback cluster (``deploy.local.cluster``) three, each broker and
controller, with a static three-voter quorum. Functions take a :class:`Node`, or the local
stack's settings for its one node.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import processes
from deploy.local.settings import KAFKA_VERSION, StackSettings

HERE = Path(__file__).resolve().parent
MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True)
class Node:
    """One KRaft node (broker and controller) on 127.0.0.1."""

    home: Path
    port: int
    controller_port: int
    cache_dir: Path
    heap: str = "768m"
    node_id: int = 1
    #: ``controller.quorum.voters`` of a multi-node quorum; None: this node alone.
    voters: str | None = None
    #: Same for every node of a cluster (its storage is formatted with it); None: random.
    cluster_id: str | None = None
    #: More ``server.properties`` lines (replication defaults, an authorizer in tests).
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def node(s: StackSettings | Node, extra: Mapping[str, str] | None = None) -> Node:
    """The local stack's one node (or ``s`` itself when it is a node)."""
    if isinstance(s, Node):
        return s
    return Node(
        s.var_dir / "kafka",
        s.kafka_port,
        s.kafka_controller_port,
        s.cache_dir,
        s.kafka_heap,
        extra=dict(extra or {}),
    )


def _lib(n: Node) -> Path:
    return n.cache_dir / f"kafka-{KAFKA_VERSION}"


def pid_file(s: StackSettings | Node) -> Path:
    return node(s).home / "kafka.pid"


def log_file(s: StackSettings | Node) -> Path:
    return node(s).home / "kafka.log"


def ensure_jars(s: StackSettings | Node) -> Path:
    """Resolve the broker's jars with mvn into the cache once; return the directory."""
    lib = _lib(node(s))
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise processes.ServiceError(
            "Kafka needs Java 17 and Maven: install them (Debian: apt-get install "
            "openjdk-17-jre-headless maven) and run `make up` again."
        )
    print(
        f"resolving Kafka {KAFKA_VERSION} jars from Maven Central into {lib} (once) ...", flush=True
    )
    processes.maven_copy(HERE / "pom.xml", lib, {"kafka.version": KAFKA_VERSION})
    marker.write_text(KAFKA_VERSION + "\n")
    return lib


def _write_config(n: Node) -> Path:
    data = n.home / "data"
    config = n.home / "server.properties"
    n.home.mkdir(parents=True, exist_ok=True)
    quorum = (
        f"controller.quorum.voters={n.voters}"
        if n.voters
        else f"controller.quorum.bootstrap.servers=127.0.0.1:{n.controller_port}"
    )
    single = n.voters is None
    config.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={n.node_id}",
                quorum,
                f"listeners=PLAINTEXT://127.0.0.1:{n.port},"
                f"CONTROLLER://127.0.0.1:{n.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{n.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=4",
                "offsets.topic.num.partitions=8",
                # A single node cannot replicate its internal topics; a cluster sets these.
                *(
                    [
                        "offsets.topic.replication.factor=1",
                        "transaction.state.log.replication.factor=1",
                        "transaction.state.log.min.isr=1",
                        "share.coordinator.state.topic.replication.factor=1",
                        "share.coordinator.state.topic.min.isr=1",
                    ]
                    if single
                    else []
                ),
                # A local group: rebalance at once instead of waiting for more members.
                "group.initial.rebalance.delay.ms=0",
                "message.max.bytes=2097152",
                *(f"{key}={value}" for key, value in n.extra.items()),
                "",
            ]
        )
    )
    return config


def _java(n: Node, lib: Path, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        f"-Xmx{n.heap}",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
        "-cp",
        f"{lib}/*",
        *args,
    ]


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _format_storage(n: Node, lib: Path, config: Path) -> None:
    data = n.home / "data"
    if (data / "meta.properties").exists():
        return
    result = subprocess.run(
        _java(
            n,
            lib,
            "kafka.tools.StorageTool",
            "format",
            # One argument: an id that starts with "-" (1 in 64) would read as an option.
            f"--cluster-id={n.cluster_id or new_cluster_id()}",
            "-c",
            str(config),
            # A static quorum (controller.quorum.voters) needs no initial controllers.
            *([] if n.voters else ["--standalone"]),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.ServiceError(
            f"formatting KRaft storage in {data} failed:\n{result.stdout}{result.stderr}"
        )


def running_pid(s: StackSettings | Node) -> int | None:
    return processes.read_pid(pid_file(s), MAIN_CLASS)


def _answers(n: Node) -> bool:
    # Port first: kafka-python leaks a socket per refused bootstrap attempt.
    if not processes.port_open(n.port):
        return False
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=n.bootstrap, request_timeout_ms=3000)
    try:
        admin.list_topics()
        return True
    finally:
        admin.close()


def spawn(s: StackSettings | Node, extra: Mapping[str, str] | None = None) -> int:
    """Start the node unless it already runs (no waiting); return its pid."""
    n = node(s, extra)
    pid = running_pid(n)
    if pid is not None:
        return pid
    processes.ensure_port_free(n.port, "set VH_KAFKA_PORT to a free port")
    lib = ensure_jars(n)
    config = _write_config(n)
    _format_storage(n, lib, config)
    return processes.spawn(_java(n, lib, MAIN_CLASS, str(config)), log_file(n), pid_file(n))


def wait_ready(s: StackSettings | Node, pid: int, timeout: float = 90.0) -> None:
    """Until the node answers clients (a cluster's nodes answer once a quorum formed)."""
    n = node(s)
    processes.wait_until(
        lambda: _answers(n),
        timeout,
        f"Kafka on {n.bootstrap}",
        log_file(n),
        alive=lambda: processes.is_alive(pid),
    )


def start(
    s: StackSettings | Node, timeout: float = 90.0, extra: Mapping[str, str] | None = None
) -> int:
    """Start the node unless it already runs; return its pid once it answers clients.

    ``extra``: more ``server.properties`` lines (tests start brokers with an authorizer).
    """
    pid = spawn(s, extra)
    wait_ready(s, pid, timeout)
    return pid


def stop(s: StackSettings | Node) -> bool:
    return processes.stop(pid_file(s), MAIN_CLASS, timeout=60.0)
