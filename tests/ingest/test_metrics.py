"""Metrics: Prometheus exposition of the documented names; unknown names are refused."""

from __future__ import annotations

import pytest

from ingest.metrics import NoMetrics, PrometheusMetrics, RecordingMetrics


def test_prometheus_exposes_the_worker_metrics() -> None:
    metrics = PrometheusMetrics()
    metrics.increment("vh_ingest_events_consumed_total", 3)
    metrics.increment("vh_ingest_events_dead_lettered_total", labels={"reason": "not_json"})
    metrics.timing("vh_ingest_insert_seconds", 0.02)
    metrics.timing("vh_ingest_batch_rows", 500)
    metrics.gauge("vh_ingest_consumer_lag", 7, {"partition": "2"})
    text = metrics.exposition().decode()
    assert "vh_ingest_events_consumed_total 3.0" in text
    assert 'vh_ingest_events_dead_lettered_total{reason="not_json"} 1.0' in text
    assert "vh_ingest_insert_seconds_count 1.0" in text
    assert 'vh_ingest_consumer_lag{partition="2"} 7.0' in text


@pytest.mark.parametrize(
    "metrics",
    [NoMetrics(), RecordingMetrics(), PrometheusMetrics()],
    ids=lambda m: type(m).__name__,
)
def test_unknown_names_are_refused(metrics: NoMetrics) -> None:
    with pytest.raises(KeyError):
        metrics.increment("vh_ingest_typo_total")


def test_recording_sums_counters_per_label() -> None:
    metrics = RecordingMetrics()
    for reason in ("schema", "schema", "not_json"):
        metrics.increment("vh_ingest_events_dead_lettered_total", labels={"reason": reason})
    assert metrics.counter("vh_ingest_events_dead_lettered_total", reason="schema") == 2
