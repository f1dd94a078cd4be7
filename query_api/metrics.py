"""Prometheus metrics and the ASGI middleware that records them and writes access logs.

Each app owns its registry (tests build many apps; the global one would refuse duplicates).
Routes are labelled by their template (``/visitors/{visitor_id}``), never the raw path, so
label cardinality stays bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from query_api import logs

_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The API's metrics in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "vh_api_request_duration_seconds",
            "Time to answer a request, by route template and method.",
            ["route", "method"],
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.responses = Counter(
            "vh_api_responses",
            "Responses sent, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.db_errors = Counter(
            "vh_api_clickhouse_errors",
            "ClickHouse queries that failed or timed out.",
            registry=self.registry,
        )
        # An age computed at scrape time, not a timestamp set by the refresh loop: it keeps
        # growing if the loop stalls or dies, reads the process's monotonic clock (immune to
        # wall-clock steps), and is the very number /ready compares with its bound.
        self.token_refresh_age = Gauge(
            "vh_api_token_refresh_age_seconds",
            "Seconds since tokens were last loaded from ClickHouse (+Inf before the first).",
            registry=self.registry,
        )

    def watch_tokens(self, age: Callable[[], float | None]) -> None:
        """Report ``age()`` (None: never loaded) as the token refresh age on every scrape."""
        self.token_refresh_age.set_function(lambda: math.inf if (a := age()) is None else a)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return generate_latest(self.registry)


class ObserveMiddleware:
    """Times every HTTP request; records latency, status and one JSON access log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app dies before answering, that is what the client sees
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            elapsed = time.perf_counter() - started
            route_obj: Any = scope.get("route")
            route = getattr(route_obj, "path", None) or "<unmatched>"
            method = scope["method"]
            self.metrics.latency.labels(route, method).observe(elapsed)
            self.metrics.responses.labels(route, method, str(status)).inc()
            state = scope.get("state") or {}
            client = scope.get("client")
            logs.access(
                method,
                route,
                scope["path"],
                status,
                elapsed * 1000,
                state.get("token_id"),
                client[0] if client else None,
            )

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Record before the last byte leaves: a client that reads /metrics right
                # after must already see this request counted.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record()
