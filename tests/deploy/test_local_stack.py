"""`make up` twice leaves one broker and one server; `make down` leaves nothing running.

Runs a second, private stack (own var dir and ports) so the session's shared services are
untouched. The jar cache is shared: resolving Kafka from Maven Central again proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import clickhouse, kafka, processes
from deploy.local.settings import StackSettings
from tests.support.services import private_stack_settings


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_up_twice_then_down_leaves_nothing(tmp_path: Path, stack_settings: StackSettings) -> None:
    s = private_stack_settings(tmp_path / "var")
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
