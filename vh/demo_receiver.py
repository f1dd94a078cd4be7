"""``make run``'s demo webhook receiver: a loopback HTTP server that checks each event's
signature and prints the first few events, then a count now and then (not a flood)."""

from __future__ import annotations

import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from webhooks.signing import HEADER, sign

SHOWN = 3
EVERY_S = 10.0


def start(port: int, secret: str) -> ThreadingHTTPServer:
    """Serve on 127.0.0.1:``port`` in a daemon thread; print to stdout prefixed ``webhook``."""
    state = {"received": 0, "bad": 0, "printed_at": time.monotonic()}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None: ...

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            # As a receiver must: check the raw body against any v1 signature of the header.
            valid = any(
                hmac.compare_digest(s, sign(secret, body))
                for s in self.headers.get(HEADER, "").split(",")
            )
            self.send_response(200 if valid else 403)
            self.send_header("content-length", "0")
            self.end_headers()
            with lock:
                state["received"] += 1
                state["bad"] += 0 if valid else 1
                n, now = state["received"], time.monotonic()
                due = now - state["printed_at"] >= EVERY_S
                if due:
                    state["printed_at"] = now
            if n <= SHOWN:
                event = json.loads(body)
                print(
                    f"webhook | POST {self.path} signature {'ok' if valid else 'BAD'}: "
                    f"event {event['event_id']} of visitor "
                    f"{event['identification']['visitor_id']} at {event['url']}",
                    flush=True,
                )
            elif due:
                print(f"webhook | {n} events received, {state['bad']} bad signatures", flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.flush()
    return server
