"""Webhooks: deliveries/s of one ``vh webhooks run`` process, and publish-to-webhook latency
at a steady rate, against a loopback receiver.

The process runs in this Python process (``webhooks.process.open_process`` in a thread) and
the receiver too (``http.server``, a thread per request), so both share one interpreter's
lock: the deliveries/s figure is a lower bound of a process on its own. Records are written
to the enriched topic as the worker writes them (key visitor, ``vh-event-id``,
``vh-tenant``, ~900-byte bodies), so the figures isolate the webhooks side. Latency is from
a record's timestamp (CreateTime: its publish) to its arrival at the receiver.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clickhouse_driver import Client

from bench import topics
from ingest.kafka_clients import KafkaProducer
from schemas.clickhouse import migrations
from schemas.enriched_stream import EVENT_ID, TENANT, EnrichedStreamSettings
from schemas.env import ClickHouseSettings
from webhooks import endpoints
from webhooks.config import WebhooksConfig
from webhooks.metrics import NoMetrics
from webhooks.process import open_process, wall_ms
from webhooks.store import ClickHouseStore


@dataclass(frozen=True)
class Settings:
    backlog: int  # events delivered as fast as possible (deliveries/s)
    rate: float  # events/s of the steady run (latency)
    seconds: float


FULL = Settings(backlog=20_000, rate=200.0, seconds=30.0)
QUICK = Settings(backlog=5_000, rate=100.0, seconds=10.0)


@dataclass
class WebhookResults:
    settings: Settings
    deliveries_per_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # event id -> wall ms of its first arrival
        self.lock = threading.Lock()
        me = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as production receivers

            def log_message(self, *args: Any) -> None: ...

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                now = time.time() * 1000
                with me.lock:
                    me.arrivals.setdefault(self.headers.get("vh-event-id", ""), now)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(1 for k in self.arrivals if k.startswith(prefix))


def _body(event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "pad": "x" * 850}).encode()


def run(
    bootstrap: str, ch_host: str, ch_port: int, run_id: str, settings: Settings,
    progress: Callable[[str], None],
) -> WebhookResults:  # fmt: skip
    """Measure; everything created is dropped before returning."""
    database, topic = f"bench_{run_id}_webhooks", f"bench_{run_id}_hooks"
    ch = Client(ch_host, port=ch_port)
    migrations.apply(lambda sql: ch.execute(sql), database, log=lambda _m: None)
    topics.create_topic(bootstrap, topic, 2)
    receiver = _Receiver()
    config = replace(
        WebhooksConfig(),
        kafka_bootstrap=bootstrap,
        enriched=EnrichedStreamSettings(topic=topic),
        clickhouse=ClickHouseSettings(ch_host, ch_port, database=database),
        group=f"bench-{run_id}-webhooks",
        allow_private=True,
        metrics_port=0,
        queue_size=50_000,  # the backlog must not overflow into dead letters
    )
    results = WebhookResults(settings)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    stop = threading.Event()
    try:
        with ClickHouseStore(config.clickhouse) as store:
            endpoints.add(store.execute, config.clickhouse.layout, "bench", receiver.url, wall_ms())

        def send(event_id: str) -> None:
            producer.send(
                topic, key=event_id[-3:].encode(), value=_body(event_id),
                headers=[(EVENT_ID, event_id.encode()), (TENANT, b"bench")],
            )  # fmt: skip

        for i in range(settings.backlog):
            send(f"b{i}")
        producer.flush()
        with open_process(config, NoMetrics()) as process:
            thread = threading.Thread(target=process, args=(stop,), daemon=True)
            thread.start()
            while receiver.count("b") == 0:
                time.sleep(0.005)
            first = time.perf_counter()
            deadline = first + 600
            while receiver.count("b") < settings.backlog and time.perf_counter() < deadline:
                time.sleep(0.01)
            results.deliveries_per_s = receiver.count("b") / (time.perf_counter() - first)
            progress(f"{results.deliveries_per_s:,.0f} deliveries/s (backlog {settings.backlog:,})")
            sent: dict[str, float] = {}
            start, n = time.monotonic(), 0
            while time.monotonic() - start < settings.seconds:
                event_id = f"s{n}"
                sent[event_id] = time.time() * 1000
                send(event_id)
                producer.flush()  # published now: its CreateTime is now
                n += 1
                time.sleep(max(0.0, start + n / settings.rate - time.monotonic()))
            settle = time.monotonic() + 30
            while receiver.count("s") < n and time.monotonic() < settle:
                time.sleep(0.05)
            with receiver.lock:
                results.latencies_ms = [
                    receiver.arrivals[k] - t for k, t in sent.items() if k in receiver.arrivals
                ]
            stop.set()
            thread.join(30)
        progress(
            f"latency at {settings.rate:g}/s: p50 {results.percentile(0.5):.0f} ms, "
            f"p99 {results.percentile(0.99):.0f} ms ({len(results.latencies_ms)} of {n})"
        )
    finally:
        stop.set()
        producer.close()
        receiver.server.shutdown()
        ch.execute(f"DROP DATABASE IF EXISTS {database}")
        ch.disconnect()
        topics.delete_topics(bootstrap, [topic])
    return results


def render(res: WebhookResults) -> str:
    s = res.settings
    mean = statistics.fmean(res.latencies_ms) if res.latencies_ms else 0.0
    return "\n".join([
        "## Webhooks",
        "",
        "One `vh webhooks run` process (default settings: 4 lanes per endpoint) delivering",
        "to one loopback receiver; the receiver shares the process's interpreter (a lower",
        "bound). Records are written to the enriched topic directly (docs/webhooks.md).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| deliveries/s, a backlog of {s.backlog:,} events | {res.deliveries_per_s:,.0f} |",
        f"| publish-to-webhook latency p50 at {s.rate:g} events/s | {res.percentile(0.5):.0f} ms |",
        f"| publish-to-webhook latency p99 | {res.percentile(0.99):.0f} ms |",
        f"| mean ({len(res.latencies_ms):,} events over {s.seconds:g} s) | {mean:.0f} ms |",
        "",
    ])  # fmt: skip
