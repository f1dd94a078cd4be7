"""Visits in flight during an erasure: stored after the erasure's mutation by a worker whose
snapshot was stale, then found and purged by that worker once its snapshot has the erasure.
Unit tests of which erasures need a check; the whole story on the real server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ingest.config import IngestConfig
from ingest.erasures import FIRST_LOAD_CHECK_MS, ErasureView
from query_api import pages, queries, render
from query_api.params import MAX_MS, VisitQuery
from schemas.clickhouse.layout import Layout
from tests.support.ingest import RunningWorker, produce, raw_event, request_ids, wait_until

NOW = 1_800_000_000_000


def _view(rows: list[list[tuple[str, str, int]]]) -> ErasureView:
    loads = iter(rows)
    return ErasureView(lambda: next(loads), 0.0, lambda: 0.0, lambda: NOW)


def test_the_first_load_checks_only_recent_erasures() -> None:
    view = _view([[("t", "old", NOW - FIRST_LOAD_CHECK_MS - 1), ("t", "new", NOW - 5)]])
    view.refresh_if_due()
    assert view.unchecked == {("t", "new"): NOW - 5}


def test_later_loads_check_new_and_renewed_erasures_until_told_they_were_checked() -> None:
    view = _view(
        [
            [("t", "a", 10)],
            [("t", "a", 10), ("t", "b", 20)],
            [("t", "a", 30), ("t", "b", 20)],
        ]
    )
    view.refresh_if_due()
    view.checked([("t", "a")])
    view.refresh_if_due()
    assert view.unchecked == {("t", "b"): 20}
    view.refresh_if_due()  # "a" erased again, later: its new instant needs a check
    assert view.unchecked == {("t", "b"): 20, ("t", "a"): 30}
    view.checked([("t", "a"), ("t", "b")])
    assert view.unchecked == {}


def _mutations_done(client: Any, db: str) -> bool:
    rows = client.execute(
        "SELECT count() FROM system.mutations WHERE database = %(db)s AND is_done = 0",
        {"db": db},
    )
    return int(rows[0][0]) == 0


def test_visits_stored_after_an_erasure_are_purged_and_the_summary_stays_true(
    ingest_config: IngestConfig,
    start_worker: Callable[..., RunningWorker],
    ch_client: Any,
) -> None:
    db, boot, topic = (
        ingest_config.clickhouse.database,
        ingest_config.kafka_bootstrap,
        ingest_config.topic,
    )
    # Loaded once at start, next in 15 s: an erasure made meanwhile is unknown to the worker.
    handle = start_worker(ingest_config, erasure_refresh_seconds=15.0)
    now = time.time_ns() // 1_000_000
    produce(boot, topic, [raw_event("before", visitor="gone", timestamp=now - 60_000)])
    wait_until(lambda: "before" in request_ids(ch_client, db), what="the first visit")

    erased_at = time.time_ns() // 1_000_000
    for statement in queries.erase(Layout(db), "acme", "gone", erased_at):
        ch_client.execute(statement.sql, statement.params)
    # Collected before the erasure, delivered just after: the worker's snapshot is stale.
    produce(boot, topic, [raw_event("in-flight", visitor="gone", timestamp=erased_at - 1_000)])
    wait_until(lambda: "in-flight" in request_ids(ch_client, db), what="the visit to slip in")

    def purged() -> bool:
        left = ch_client.execute(
            f"SELECT count() FROM {db}.visits WHERE visitor_id = 'gone' AND timestamp_ms <= %(at)s",
            {"at": erased_at},
        )
        return int(left[0][0]) == 0 and _mutations_done(ch_client, db)

    wait_until(purged, timeout=60, what="the slipped visit purged")
    # Counted once the purge's whole round is done (its aggregate rebuild runs after the
    # deletes the check above sees); exactly one purge, never more.
    wait_until(
        lambda: handle.metrics.counter("vh_ingest_erasure_purges_total") >= 1,
        what="the purge counted",
    )
    assert handle.metrics.counter("vh_ingest_erasure_purges_total") == 1
    index = ch_client.execute(
        f"SELECT request_id FROM {db}.request_index WHERE visitor_id = 'gone'"
    )
    assert index == []
    copies = ch_client.execute(
        f"SELECT request_id FROM {db}.visit_pages WHERE visitor_id = 'gone'"
        " AND timestamp_ms <= %(at)s",
        {"at": erased_at},
    )
    assert copies == []  # the page read path's copy (040) is purged with the visits

    # The visitor comes back: its history starts again, with a first-seen of its own.
    produce(boot, topic, [raw_event("back", visitor="gone", timestamp=erased_at + 5_000)])
    wait_until(lambda: "back" in request_ids(ch_client, db), what="the returning visit")
    assert handle.stop() == 0
    statement = queries.visit_page(Layout(db), "acme", VisitQuery("gone", 0, MAX_MS, 10))
    rows = ch_client.execute(statement.sql, statement.params)
    about = render.summary(rows[0])
    assert about.known and about.first_seen == erased_at + 5_000
    assert [r[len(queries.SUMMARY_COLUMNS)] for r in rows] == ["back"]
    rows, about = pages.load(
        lambda s: list(ch_client.execute(s.sql, s.params)), Layout(db), "acme",
        VisitQuery("gone", 0, MAX_MS, 10),
    )  # fmt: skip
    assert about.known and about.first_seen == erased_at + 5_000
    assert [r[len(queries.SUMMARY_COLUMNS)] for r in rows] == ["back"]
