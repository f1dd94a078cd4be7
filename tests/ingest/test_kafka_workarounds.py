"""kafka-python 3.0 leaves the socket of a failed connect open (ingest.kafka_workarounds)."""

from __future__ import annotations

import gc
import socket
import time
import warnings

import pytest

from ingest import kafka_clients  # noqa: F401 (applies the workaround, as every client does)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.filterwarnings("always::ResourceWarning")
def test_refused_connects_leave_no_socket_open() -> None:
    from kafka import KafkaConsumer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        consumer = KafkaConsumer(
            bootstrap_servers=f"127.0.0.1:{_closed_port()}",
            api_version=(2, 8),  # no version probe: straight to the connect loop
            reconnect_backoff_ms=20,
            reconnect_backoff_max_ms=50,
        )
        attempts_until = time.monotonic() + 1.0  # unpatched, ~20 refused connects leak here
        while time.monotonic() < attempts_until:
            consumer.poll(timeout_ms=100)
        consumer.close()
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []
