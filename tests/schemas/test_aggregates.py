"""The analysts' aggregates (traffic_daily, traffic_hourly) answer what the raw visits answer,
on 18.16 and on the current engine: with redelivered copies in the data, after an erasure
(its rebuild), and when backfilled for visits stored before the views existed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.clickhouse import aggregates
from schemas.clickhouse.layout import Layout
from tests.support.analytics import (
    DAY_MS,
    START_MS,
    TENANT,
    Db,
    engine_db,
    erase,
    insert,
    make_visits,
    wait_for_mutations,
)


@pytest.fixture(params=["18.16", "chdb"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    yield from engine_db(request, request.param)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d")


def _expected_daily(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """(day, dimension, value) -> (visits, visitors, bot visits, incognito visits), computed
    in Python from what was inserted (duplicates counted once)."""
    unique = {r["request_id"]: r for r in rows if r["tenant"] == TENANT}
    sets: dict[tuple[str, str, str], tuple[set[str], set[str], set[str], set[str]]] = {}
    for r in unique.values():
        for dimension, value in (
            ("all", ""),
            ("country", r["country_code"] or ""),
            ("browser", r["browser_name"]),
            ("os", r["os"]),
            ("device", r["device"]),
        ):
            v, u, b, i = sets.setdefault(
                (_day(r["timestamp_ms"]), dimension, value), (set(), set(), set(), set())
            )
            v.add(r["request_id"])
            u.add(r["visitor_id"])
            if r["bot_probability"] >= 0.5:
                b.add(r["request_id"])
            if r["incognito"]:
                i.add(r["request_id"])
    return {k: tuple(len(s) for s in v) for k, v in sets.items()}


def _daily_view(db: Db) -> dict[tuple[str, str, str], tuple[int, ...]]:
    rows = db.execute(
        "SELECT toString(day), dimension, value, uniqCombinedMerge(visits),"
        " uniqCombinedMerge(visitors),"
        " uniqCombinedMerge(bot_visits), uniqCombinedMerge(incognito_visits) FROM"
        f" {db.name}.traffic_daily"
        f" WHERE tenant = '{TENANT}' GROUP BY day, dimension, value"
    )
    return {(str(r[0]), str(r[1]), str(r[2])): tuple(int(v) for v in r[3:]) for r in rows}


def _daily_raw(db: Db) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """The same from the raw visits, as an analyst writes it: uniq over requestIds, erased
    visits left out by the erasures table."""
    out: dict[tuple[str, str, str], tuple[int, ...]] = {}
    for dimension, expr in (
        ("all", "''"),
        ("country", "ifNull(country_code, '')"),
        ("browser", "browser_name"),
        ("os", "os"),
        ("device", "device"),
    ):
        rows = db.execute(
            f"SELECT toString(toDate(time)) AS d, toString({expr}) AS value,"
            " uniqCombined(request_id),"
            " uniqCombined(visitor_id), uniqCombinedIf(request_id, bot_probability >= 0.5),"
            f" uniqCombinedIf(request_id, incognito = 1) FROM {db.name}.visits ANY LEFT JOIN"
            " (SELECT tenant, visitor_id, max(erased_at_ms) AS erased_at_ms"
            f" FROM {db.name}.erasures GROUP BY tenant, visitor_id) AS e USING (tenant, visitor_id)"
            f" WHERE tenant = '{TENANT}' AND timestamp_ms > erased_at_ms GROUP BY d, value"
        )
        out |= {(str(r[0]), dimension, str(r[1])): tuple(int(v) for v in r[2:]) for r in rows}
    return out


def _hourly(db: Db, table: str) -> dict[str, tuple[int, ...]]:
    if table == "view":
        sql = (
            "SELECT toString(hour), uniqCombinedMerge(visits), uniqCombinedMerge(visitors),"
            " uniqCombinedMerge(bot_visits)"
            f" FROM {db.name}.traffic_hourly WHERE tenant = '{TENANT}' GROUP BY hour"
        )
    else:
        sql = (
            "SELECT toString(toStartOfHour(toDateTime(time, 'UTC'))) AS h,"
            " uniqCombined(request_id),"
            " uniqCombined(visitor_id), uniqCombinedIf(request_id, bot_probability >= 0.5)"
            f" FROM {db.name}.visits ANY LEFT JOIN (SELECT tenant, visitor_id,"
            f" max(erased_at_ms) AS erased_at_ms FROM {db.name}.erasures GROUP BY tenant,"
            f" visitor_id) AS e USING (tenant, visitor_id) WHERE tenant = '{TENANT}'"
            " AND timestamp_ms > erased_at_ms GROUP BY h"
        )
    return {str(r[0]): tuple(int(v) for v in r[1:]) for r in db.execute(sql)}


def test_views_count_a_redelivered_visit_once(db: Db) -> None:
    rows = make_visits()
    insert(db, rows[:150])
    insert(db, rows[100:])  # 100..149 delivered again, in another block
    expected = _expected_daily(rows)
    assert _daily_view(db) == expected
    assert _daily_raw(db) == expected
    assert _hourly(db, "view") == _hourly(db, "raw")
    assert sum(v[0] for (_d, dim, _v), v in expected.items() if dim == "all") == len(
        {r["request_id"] for r in rows if r["tenant"] == TENANT}
    )


def test_an_erasure_rebuilds_the_days_of_the_erased_visitor(db: Db) -> None:
    rows = make_visits()
    insert(db, rows)
    insert(db, rows[:40])
    erased, at = "v5", START_MS + 2 * DAY_MS + 3_600_000  # v5's visits after it stay
    erase(db, erased, at)
    wait_for_mutations(db)
    left = [r for r in rows if r["visitor_id"] != erased or r["timestamp_ms"] > at]
    assert len({r["request_id"] for r in rows if r["visitor_id"] == erased} - {
        r["request_id"] for r in left}) > 3  # fmt: skip
    expected = _expected_daily(left)
    assert _daily_view(db) == expected
    assert _daily_raw(db) == expected
    assert _hourly(db, "view") == _hourly(db, "raw")
    before = _expected_daily(rows)
    assert expected != before  # the erasure did change the answers


def test_a_backfill_counts_visits_stored_before_the_views_and_can_run_again(db: Db) -> None:
    rows = make_visits(seed=9)
    for view in ("traffic_daily_mv", "traffic_hourly_mv"):
        db.execute(f"DROP TABLE {db.name}.{view}")  # as before migration 031
    insert(db, rows[:200])
    migrations_done = db.execute(f"SELECT version FROM {db.name}.schema_migrations")
    assert (31,) in [tuple(int(v) for v in r) for r in migrations_done]
    layout = Layout(db.name)
    for _ in range(2):  # a second run changes nothing (uniq states)
        for month, _count in db.run(aggregates.visit_months(layout)):
            for statement in aggregates.backfill_month(layout, int(month)):
                db.run(statement)
        assert _daily_view(db) == _expected_daily(rows[:200])
        assert _hourly(db, "view") == _hourly(db, "raw")
