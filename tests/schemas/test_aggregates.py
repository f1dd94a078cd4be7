"""The analysts' aggregates (traffic_daily, traffic_hourly) answer what the raw visits answer,
on 18.16 and on the current engine: with redelivered copies in the data, after an erasure
(its rebuild), and when backfilled for visits stored before the views existed."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.clickhouse import aggregates, migrations, statements
from schemas.clickhouse.layout import Layout
from tests.support.services import ChdbSession, ClickHouseEndpoint

Execute = Callable[..., list[tuple[Any, ...]]]
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TENANT = "acme"


@dataclass
class Db:
    execute: Execute
    name: str

    def run(self, statement: statements.Statement) -> list[tuple[Any, ...]]:
        return self.execute(statement.sql, statement.params)


@pytest.fixture(params=["18.16", "chdb"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    name = f"vh_agg_{uuid.uuid4().hex[:8]}"
    if request.param == "chdb":
        session: ChdbSession = request.getfixturevalue("chdb_session")
        execute: Execute = session.execute
    else:
        endpoint: ClickHouseEndpoint = request.getfixturevalue("clickhouse_endpoint")
        client = endpoint.client()
        request.addfinalizer(client.disconnect)
        execute = client.execute
    migrations.apply(execute, name, log=lambda _m: None)
    yield Db(execute, name)
    execute(f"DROP DATABASE IF EXISTS {name}")


def _visits(seed: int = 5, n: int = 240) -> list[dict[str, Any]]:
    """Visits of 12 visitors over 4 days, some bots and incognito, with one country unknown."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        visitor = f"v{rng.randrange(12)}"
        ts = START_MS + rng.randrange(4 * DAY_MS)
        out.append(
            {
                "tenant": TENANT if i % 10 else "other",
                "visitor_id": visitor,
                "timestamp_ms": ts,
                "request_id": f"r{i}",
                "incognito": int(rng.random() < 0.2),
                "bot_probability": 0.9 if visitor == "v3" else 0.0,
                "browser_name": ["Chrome", "Firefox", "Safari"][int(visitor[1:]) % 3],
                "os": ["Windows", "iOS"][int(visitor[1:]) % 2],
                "device": ["Other", "iPhone"][int(visitor[1:]) % 2],
                "country_code": [None, "GB", "SE", "US"][int(visitor[1:]) % 4],
            }
        )
    return out


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def _insert(db: Db, rows: list[dict[str, Any]]) -> None:
    """One insert block (the views see it as one), as INSERT ... SELECT (both engines)."""
    selects = ["SELECT " + ", ".join(f"{_literal(v)} AS {k}" for k, v in r.items()) for r in rows]
    columns = ", ".join(rows[0])
    db.execute(
        f"INSERT INTO {db.name}.visits ({columns}, time) SELECT {columns},"
        f" toDateTime(intDiv(timestamp_ms, 1000), 'UTC') FROM ({' UNION ALL '.join(selects)})"
    )


def _wait_for_mutations(db: Db) -> None:
    deadline = time.monotonic() + 60
    while db.execute(
        f"SELECT count() FROM system.mutations WHERE database = '{db.name}' AND is_done = 0"
    )[0][0]:
        assert time.monotonic() < deadline, "mutations did not finish in 60 s"
        time.sleep(0.1)


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
        "SELECT toString(day), dimension, value, uniqMerge(visits), uniqMerge(visitors),"
        f" uniqMerge(bot_visits), uniqMerge(incognito_visits) FROM {db.name}.traffic_daily"
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
            f"SELECT toString(toDate(time)) AS d, toString({expr}) AS value, uniq(request_id),"
            " uniq(visitor_id), uniqIf(request_id, bot_probability >= 0.5),"
            f" uniqIf(request_id, incognito = 1) FROM {db.name}.visits ANY LEFT JOIN"
            " (SELECT tenant, visitor_id, max(erased_at_ms) AS erased_at_ms"
            f" FROM {db.name}.erasures GROUP BY tenant, visitor_id) AS e USING (tenant, visitor_id)"
            f" WHERE tenant = '{TENANT}' AND timestamp_ms > erased_at_ms GROUP BY d, value"
        )
        out |= {(str(r[0]), dimension, str(r[1])): tuple(int(v) for v in r[2:]) for r in rows}
    return out


def _hourly(db: Db, table: str) -> dict[str, tuple[int, ...]]:
    if table == "view":
        sql = (
            "SELECT toString(hour), uniqMerge(visits), uniqMerge(visitors), uniqMerge(bot_visits)"
            f" FROM {db.name}.traffic_hourly WHERE tenant = '{TENANT}' GROUP BY hour"
        )
    else:
        sql = (
            "SELECT toString(toStartOfHour(toDateTime(time, 'UTC'))) AS h, uniq(request_id),"
            " uniq(visitor_id), uniqIf(request_id, bot_probability >= 0.5)"
            f" FROM {db.name}.visits ANY LEFT JOIN (SELECT tenant, visitor_id,"
            f" max(erased_at_ms) AS erased_at_ms FROM {db.name}.erasures GROUP BY tenant,"
            f" visitor_id) AS e USING (tenant, visitor_id) WHERE tenant = '{TENANT}'"
            " AND timestamp_ms > erased_at_ms GROUP BY h"
        )
    return {str(r[0]): tuple(int(v) for v in r[1:]) for r in db.execute(sql)}


def _erase(db: Db, visitor: str, at_ms: int) -> None:
    """What DELETE /visitors/<id> runs, in its order."""
    layout = Layout(db.name)
    days = [str(r[0]) for r in db.run(aggregates.erased_days(layout, TENANT, visitor, at_ms))]
    db.run(statements.record_erasure(layout, TENANT, visitor, at_ms))
    for statement in statements.delete_erased(layout, TENANT, visitor, at_ms):
        db.run(statement)
    for statement in aggregates.rebuild_days(layout, TENANT, days, visitor):
        db.run(statement)


def test_views_count_a_redelivered_visit_once(db: Db) -> None:
    rows = _visits()
    _insert(db, rows[:150])
    _insert(db, rows[100:])  # 100..149 delivered again, in another block
    expected = _expected_daily(rows)
    assert _daily_view(db) == expected
    assert _daily_raw(db) == expected
    assert _hourly(db, "view") == _hourly(db, "raw")
    assert sum(v[0] for (_d, dim, _v), v in expected.items() if dim == "all") == len(
        {r["request_id"] for r in rows if r["tenant"] == TENANT}
    )


def test_an_erasure_rebuilds_the_days_of_the_erased_visitor(db: Db) -> None:
    rows = _visits()
    _insert(db, rows)
    _insert(db, rows[:40])
    erased, at = "v5", START_MS + 2 * DAY_MS + 3_600_000  # v5's visits after it stay
    _erase(db, erased, at)
    _wait_for_mutations(db)
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
    rows = _visits(seed=9)
    for view in ("traffic_daily_mv", "traffic_hourly_mv"):
        db.execute(f"DROP TABLE {db.name}.{view}")  # as before migration 031
    _insert(db, rows[:200])
    migrations_done = db.execute(f"SELECT version FROM {db.name}.schema_migrations")
    assert (31,) in [tuple(int(v) for v in r) for r in migrations_done]
    layout = Layout(db.name)
    for _ in range(2):  # a second run changes nothing (uniq states)
        for month, _count in db.run(aggregates.visit_months(layout)):
            for statement in aggregates.backfill_month(layout, int(month)):
                db.run(statement)
        assert _daily_view(db) == _expected_daily(rows[:200])
        assert _hourly(db, "view") == _hourly(db, "raw")
