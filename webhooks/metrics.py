"""Webhook metrics: the names (:data:`SPECS`), and the implementations of ``schemas.metrics``
bound to them; Prometheus on ``VH_WEBHOOKS_METRICS_PORT``'s /metrics.

Labelled by ``endpoint`` (its id, never its URL: a URL may carry credentials, and ids keep
the series few). An unknown name raises ``KeyError`` everywhere, so a typo cannot lose one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from schemas import metrics
from schemas.metrics import Metrics, Spec

__all__ = ["SPECS", "Metrics", "NoMetrics", "PrometheusMetrics", "RecordingMetrics"]

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)

SPECS: Final[Mapping[str, Spec]] = {
    "vh_webhooks_events_consumed_total": Spec("counter", "Enriched events read"),
    "vh_webhooks_delivered_total": Spec("counter", "Deliveries a 2xx answered", ("endpoint",)),
    "vh_webhooks_retried_total": Spec(
        "counter", "Failed attempts retried later, by reason kind", ("endpoint", "reason")
    ),
    "vh_webhooks_dead_lettered_total": Spec(
        "counter", "Deliveries given up on (vh webhooks replay)", ("endpoint", "reason")
    ),
    "vh_webhooks_attempt_seconds": Spec("histogram", "One POST's latency", ("endpoint",), _SECONDS),
    "vh_webhooks_delivery_lag_seconds": Spec(
        "histogram", "From the worker's publish to a 2xx", ("endpoint",), _SECONDS
    ),
    "vh_webhooks_queued": Spec("gauge", "Deliveries waiting or in flight", ("endpoint",)),
    "vh_webhooks_commit_failures_total": Spec("counter", "Offset commits refused (retried)"),
}


class NoMetrics(metrics.NoMetrics):
    """Reports nowhere (metrics port 0), but still refuses unknown names."""

    def __init__(self) -> None:
        super().__init__(SPECS)


class RecordingMetrics(metrics.RecordingMetrics):
    def __init__(self) -> None:
        super().__init__(SPECS)


class PrometheusMetrics(metrics.PrometheusMetrics):
    def __init__(self) -> None:
        super().__init__(SPECS)
