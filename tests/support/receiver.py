"""A real HTTP webhook receiver on loopback for the tests: records every request, and can
answer 500 for its first N requests or for a time from its first request (an outage), answer
slowly, or hang (until released)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # monotonic


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to this many requests
    down_s: float = 0.0  # answer 500 for this long from the first request (an outage)
    status: int = 200
    delay_s: float = 0.0
    hang: threading.Event | None = None  # set: stop hanging
    failed: int = 0
    first_at: float | None = None  # monotonic time of the first request


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    behaviour: Behaviour
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered(self) -> list[Received]:
        """Requests answered 2xx (those received while failing are left out)."""
        with self.lock:
            return list(self.received)

    def stop(self) -> None:
        if self.behaviour.hang is not None:
            self.behaviour.hang.set()
        self.server.shutdown()
        self.server.server_close()


def start_receiver(behaviour: Behaviour | None = None) -> Receiver:
    behaviour = behaviour or Behaviour()
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None: ...

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            me = holder[0]
            b = me.behaviour
            if b.hang is not None and not b.hang.is_set():
                b.hang.wait(60)
                return  # the client gave up long ago
            if b.delay_s:
                time.sleep(b.delay_s)
            with me.lock:
                now = time.monotonic()
                b.first_at = now if b.first_at is None else b.first_at
                failing = b.failed < b.fail_first or now - b.first_at < b.down_s
                if failing:
                    b.failed += 1
                else:
                    me.received.append(
                        Received(self.path, dict(self.headers.items()), body, time.monotonic())
                    )
            self.send_response(500 if failing else b.status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server, behaviour)
    holder.append(receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
