"""`make up` twice leaves one broker and one server; `make down` leaves nothing running.

Runs a second, private stack (own var dir and ports) so the session's shared services are
untouched. The jar cache is shared: resolving Kafka from Maven Central again proves nothing.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from deploy.local import clickhouse, kafka, processes
from deploy.local.settings import StackSettings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_up_twice_then_down_leaves_nothing(tmp_path: Path, stack_settings: StackSettings) -> None:
    env = {
        "VH_VAR_DIR": str(tmp_path / "var"),
        "VH_CACHE_DIR": str(stack_settings.cache_dir),
        "VH_KAFKA_PORT": str(_free_port()),
        "VH_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "VH_CLICKHOUSE_PORT": str(_free_port()),
        "VH_CLICKHOUSE_HTTP_PORT": str(_free_port()),
    }
    s = StackSettings.from_env({**os.environ, **env})
    try:
        first = (kafka.start(s), clickhouse.start(s))
        second = (kafka.start(s), clickhouse.start(s))
        assert first == second, "a second `up` must reuse the running services"
        assert all(
            processes.read_pid(p, m)
            for p, m in (
                (kafka.pid_file(s), kafka.MAIN_CLASS),
                (clickhouse.pid_file(s), clickhouse.MARKER),
            )
        )
    finally:
        kafka.stop(s)
        clickhouse.stop(s)

    for pid in first:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    for port in (s.kafka_port, s.kafka_controller_port, s.clickhouse_port, s.clickhouse_http_port):
        assert not processes.port_open(port), f"port {port} still open after down"
    assert kafka.running_pid(s) is None and clickhouse.running_pid(s) is None
