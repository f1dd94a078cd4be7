"""The webhooks' metrics on /metrics, as Prometheus scrapes them."""

from __future__ import annotations

import socket

import httpx
import pytest

from webhooks.metrics import SPECS, NoMetrics, PrometheusMetrics, RecordingMetrics


def test_every_metric_is_exported_on_the_metrics_port() -> None:
    metrics = PrometheusMetrics()
    labels = {"endpoint": "wh_1"}
    metrics.increment("vh_webhooks_delivered_total", labels=labels)
    metrics.increment("vh_webhooks_retried_total", 2, {**labels, "reason": "timeout"})
    metrics.increment("vh_webhooks_dead_lettered_total", labels={**labels, "reason": "http_500"})
    metrics.timing("vh_webhooks_attempt_seconds", 0.02, labels)
    metrics.timing("vh_webhooks_delivery_lag_seconds", 0.4, labels)
    metrics.gauge("vh_webhooks_queued", 3, labels)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    metrics.serve(port, host="127.0.0.1")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    for line in (
        'vh_webhooks_delivered_total{endpoint="wh_1"} 1.0',
        'vh_webhooks_retried_total{endpoint="wh_1",reason="timeout"} 2.0',
        'vh_webhooks_dead_lettered_total{endpoint="wh_1",reason="http_500"} 1.0',
        'vh_webhooks_attempt_seconds_count{endpoint="wh_1"} 1.0',
        'vh_webhooks_delivery_lag_seconds_bucket{endpoint="wh_1",le="0.5"} 1.0',
        'vh_webhooks_queued{endpoint="wh_1"} 3.0',
    ):
        assert line in text
    for name in SPECS:
        assert name.removesuffix("_total") in text


@pytest.mark.parametrize("metrics", [NoMetrics(), RecordingMetrics()])
def test_an_unknown_name_is_refused(metrics: NoMetrics | RecordingMetrics) -> None:
    with pytest.raises(KeyError):
        metrics.increment("vh_webhooks_typo_total")
