"""Apache ZooKeeper on loopback, standalone, from the official jars (Maven Central).

The loopback cluster's ClickHouse servers keep their replication log and ``ON CLUSTER``
DDL queue in it. One standalone server: the cluster tests kill ClickHouse replicas and
Kafka brokers, not the coordination service (a production deployment runs three or five).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from deploy.local import processes
from deploy.local.settings import ZOOKEEPER_VERSION

HERE = Path(__file__).resolve().parent
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"


@dataclass(frozen=True)
class Server:
    home: Path
    port: int
    cache_dir: Path
    heap: str = "256m"


def pid_file(z: Server) -> Path:
    return z.home / "zookeeper.pid"


def log_file(z: Server) -> Path:
    return z.home / "zookeeper.log"


def ensure_jars(z: Server) -> Path:
    lib = z.cache_dir / f"zookeeper-{ZOOKEEPER_VERSION}"
    marker = lib / ".complete"
    if not marker.exists():
        print(f"resolving ZooKeeper {ZOOKEEPER_VERSION} from Maven Central (once) ...", flush=True)
        processes.maven_copy(HERE / "zookeeper.xml", lib, {"zookeeper.version": ZOOKEEPER_VERSION})
        marker.write_text(ZOOKEEPER_VERSION + "\n")
    return lib


def _write_config(z: Server) -> Path:
    (z.home / "data").mkdir(parents=True, exist_ok=True)
    config = z.home / "zoo.cfg"
    config.write_text(
        "\n".join(
            [
                "tickTime=2000",
                f"dataDir={z.home / 'data'}",
                f"clientPort={z.port}",
                "clientPortAddress=127.0.0.1",
                "admin.enableServer=false",
                "4lw.commands.whitelist=ruok,srvr",
                # ClickHouse keeps many small znodes; purge old snapshots and logs hourly.
                "autopurge.snapRetainCount=3",
                "autopurge.purgeInterval=1",
                "",
            ]
        )
    )
    return config


def running_pid(z: Server) -> int | None:
    return processes.read_pid(pid_file(z), MAIN_CLASS)


def _answers(z: Server) -> bool:
    # ``srvr``, not ``ruok``: a server whose main thread died still answers imok.
    with socket.create_connection(("127.0.0.1", z.port), timeout=2) as sock:
        sock.sendall(b"srvr")
        return b"Mode: standalone" in sock.recv(4096)


def start(z: Server, timeout: float = 60.0) -> int:
    """Start it unless it already runs; return its pid once it serves."""
    pid = running_pid(z)
    if pid is None:
        processes.ensure_port_free(z.port, "stop it, or change the port in the topology")
        lib = ensure_jars(z)
        config = _write_config(z)
        argv = ["java", f"-Xmx{z.heap}", "-cp", f"{lib}/*", MAIN_CLASS, str(config)]
        pid = processes.spawn(argv, log_file(z), pid_file(z))
    processes.wait_until(
        lambda: _answers(z), timeout, f"ZooKeeper on 127.0.0.1:{z.port}", log_file(z),
        alive=lambda: processes.is_alive(pid),
    )  # fmt: skip
    return pid


def stop(z: Server) -> bool:
    return processes.stop(pid_file(z), MAIN_CLASS, timeout=30.0)
