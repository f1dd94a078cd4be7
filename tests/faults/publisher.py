"""The crash test's edge collector, run as its own process.

A separate process because kafka-python leaks a socket per refused connection while the
broker restarts, which pytest (warnings are errors) would report at the end of the session;
and because publishing should not compete with the test's own thread for the GIL.
Prints one JSON line at the end: ``{"acked": n, "failed": [indices]}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from tests.faults import events


def publish(
    bootstrap: str, topic: str, count: int, visitors: int, seconds: float
) -> dict[str, Any]:
    """Send ``count`` valid events over about ``seconds``; wait for every acknowledgement."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=50,
        batch_size=256 * 1024,
        # Rides out the broker restart: retried until acknowledged or 2 minutes passed.
        delivery_timeout_ms=120_000,
        max_block_ms=120_000,
    )
    lock = threading.Lock()
    acked = [0]
    failed: list[int] = []

    def ack(_meta: Any) -> None:
        with lock:
            acked[0] += 1

    start = time.monotonic()
    try:
        for i in range(count):
            if i % 2000 == 0:  # pace: spread publishing over `seconds`
                ahead = start + seconds * i / count - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            key, value, _ = events.valid_event(i, visitors)
            future = producer.send(topic, key=key, value=value)
            future.add_callback(ack)
            future.add_errback(lambda _exc, i=i: failed.append(i))
        producer.flush(timeout=180)
    finally:
        producer.close(timeout=30)
    return {"acked": acked[0], "failed": failed}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--visitors", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    result = publish(args.bootstrap, args.topic, args.count, args.visitors, args.seconds)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
