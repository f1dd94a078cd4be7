"""Apache Kafka in KRaft mode on loopback: jars from Maven Central, one combined node.

The broker runs straight from the official jars (`org.apache.kafka:kafka_2.13`) with the
machine's Java 17; no distribution tarball, no Docker.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path

from deploy.local import processes
from deploy.local.settings import KAFKA_VERSION, StackSettings

HERE = Path(__file__).resolve().parent
MAIN_CLASS = "kafka.Kafka"


def _dirs(s: StackSettings) -> tuple[Path, Path, Path]:
    home = s.var_dir / "kafka"
    return home, home / "data", s.cache_dir / f"kafka-{KAFKA_VERSION}"


def pid_file(s: StackSettings) -> Path:
    return s.var_dir / "kafka" / "kafka.pid"


def log_file(s: StackSettings) -> Path:
    return s.var_dir / "kafka" / "kafka.log"


def ensure_jars(s: StackSettings) -> Path:
    """Resolve the broker's jars with mvn into the cache once; return the directory."""
    _, _, lib = _dirs(s)
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
    lib.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(HERE / "pom.xml"),
            "dependency:copy-dependencies",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.ServiceError(
            f"mvn could not resolve org.apache.kafka:kafka_2.13:{KAFKA_VERSION}:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}\n"
            "Check that Maven Central is reachable, then run `make up` again."
        )
    marker.write_text(KAFKA_VERSION + "\n")
    return lib


def _write_config(s: StackSettings, extra: Mapping[str, str]) -> Path:
    home, data, _ = _dirs(s)
    config = home / "server.properties"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},"
                f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=4",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # A single local node: rebalance at once instead of waiting for more members.
                "group.initial.rebalance.delay.ms=0",
                "message.max.bytes=2097152",
                *(f"{key}={value}" for key, value in extra.items()),
                "",
            ]
        )
    )
    return config


def _java(s: StackSettings, lib: Path, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        f"-Xmx{s.kafka_heap}",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
        "-cp",
        f"{lib}/*",
        *args,
    ]


def _format_storage(s: StackSettings, lib: Path, config: Path) -> None:
    _, data, _ = _dirs(s)
    if (data / "meta.properties").exists():
        return
    # KRaft cluster ids are 16 random bytes, base64url without padding.
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    result = subprocess.run(
        _java(
            s,
            lib,
            "kafka.tools.StorageTool",
            "format",
            # One argument: an id that starts with "-" (1 in 64) would read as an option.
            f"--cluster-id={cid}",
            "-c",
            str(config),
            "--standalone",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise processes.ServiceError(
            f"formatting KRaft storage in {data} failed:\n{result.stdout}{result.stderr}"
        )


def running_pid(s: StackSettings) -> int | None:
    return processes.read_pid(pid_file(s), MAIN_CLASS)


def _answers(s: StackSettings) -> bool:
    # Port first: kafka-python leaks a socket per refused bootstrap attempt.
    if not processes.port_open(s.kafka_port):
        return False
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, request_timeout_ms=3000)
    try:
        admin.list_topics()
        return True
    finally:
        admin.close()


def start(s: StackSettings, timeout: float = 90.0, extra: Mapping[str, str] | None = None) -> int:
    """Start the broker unless it already runs; return its pid once it answers clients.

    ``extra``: more ``server.properties`` lines (tests start brokers with an authorizer).
    """
    pid = running_pid(s)
    if pid is None:
        if processes.port_open(s.kafka_port):
            raise processes.ServiceError(
                f"port {s.kafka_port} is taken by another process; set VH_KAFKA_PORT to a free port"
            )
        lib = ensure_jars(s)
        config = _write_config(s, extra or {})
        _format_storage(s, lib, config)
        pid = processes.spawn(_java(s, lib, MAIN_CLASS, str(config)), log_file(s), pid_file(s))
    processes.wait_until(
        lambda: _answers(s),
        timeout,
        f"Kafka on {s.kafka_bootstrap}",
        log_file(s),
        alive=lambda: processes.is_alive(pid),
    )
    return pid


def stop(s: StackSettings) -> bool:
    return processes.stop(pid_file(s), MAIN_CLASS, timeout=60.0)
