"""The benchmarks' generated visit table builds on the current schema, on 18.16 and on the
current engine (it broke silently once: v4's columns made the unnamed column list too short,
and only a `make bench` run found out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import api_data
from bench.bench_analytics import ANCHOR_MS, FLOORS, bench_params
from schemas.clickhouse import migrations
from tests.support.analytics import Db, engine_db

ROWS = 5_000


@pytest.fixture(params=["18.16", "chdb"])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    yield from engine_db(request, request.param)


def test_the_generated_visits_fill_the_table_and_its_views(db: Db) -> None:
    version = str(db.execute("SELECT version()")[0][0])
    modern = migrations.ServerFeatures.from_version(version).modern_types
    db.execute(api_data.insert_sql(db.name, ROWS, ANCHOR_MS, millisecond_time=modern))
    tiers = api_data.Tiers(ROWS)
    count, visitors, first, last, bots = db.execute(
        f"SELECT count(), uniqExact(visitor_id), min(timestamp_ms), max(timestamp_ms),"
        f" countIf(bot != 'not_detected') FROM {db.name}.visits"
    )[0]
    assert count == ROWS
    assert visitors <= tiers.huge + tiers.medium + tiers.small
    assert ANCHOR_MS - api_data.SPAN_DAYS * api_data.DAY_MS < first <= last <= ANCHOR_MS
    # time is timestamp_ms (current servers once read the ms as seconds: year 9999)
    assert db.execute(
        f"SELECT countIf(toUInt64(toUnixTimestamp(time)) != intDiv(timestamp_ms, 1000))"
        f" FROM {db.name}.visits"
    ) == [(0,)]
    assert bots == 0  # the defaults of the later columns apply (bot_probability 0)
    summary = db.execute(f"SELECT uniqExact(visitor_id) FROM {db.name}.visitor_summary")[0][0]
    daily = db.execute(
        f"SELECT uniqCombinedMerge(visits) FROM {db.name}.traffic_daily WHERE dimension = 'all'"
    )[0][0]
    # The views' estimate is the one uniqCombined gives over the rows (exact up to 4,096
    # values on current servers, a HyperLogLog sketch within about 1% beyond).
    raw = db.execute(f"SELECT uniqCombined(request_id) FROM {db.name}.visits")[0][0]
    assert (summary, daily) == (visitors, raw)
    assert abs(daily - ROWS) <= ROWS // 100


def test_the_analytics_floors_answer_on_the_generated_table(db: Db) -> None:
    version = str(db.execute("SELECT version()")[0][0])
    modern = migrations.ServerFeatures.from_version(version).modern_types
    db.execute(api_data.insert_sql(db.name, ROWS, ANCHOR_MS, millisecond_time=modern))
    params = bench_params()
    answers = {k: db.execute(sql.format(db=db.name), params) for k, sql in FLOORS.items()}
    window = answers["rows"][0][0]
    assert 0 < window < ROWS  # the last 30 of 90 days
    assert abs(answers["distinct"][0][0] - window) <= window // 100
    assert sum(r[1] for r in answers["daily_no_join"]) == pytest.approx(window, rel=0.01)
