"""The visitor query reads only that visitor's granules, per ClickHouse's own query_log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from query_api import queries
from query_api.config import ApiConfig
from query_api.params import VisitQuery
from query_api.pool import ClientPool
from schemas.clickhouse.layout import Layout
from tests.query_api import visits
from tests.support.api import TENANT, now_ms

VISITORS = 50_000
ROWS = 500_000
GRANULE = 2048  # index_granularity of visits (001_visits.sql)


def generate(client: Any, rows: int, visitors: int, start_ms: int, step_ms: int) -> None:
    """``rows`` visits over ``visitors`` visitors of one tenant, one every ``step_ms`` from
    ``start_ms``, generated on the server (a Python insert of this size takes far longer)."""
    # `time` as the worker writes it (ingest.rows.time_value): whole seconds on 18.16,
    # milliseconds on current servers. (An integer CAST to DateTime64 would read seconds.)
    time_expr = (
        "fromUnixTimestamp64Milli(toInt64(ts), 'UTC')"
        if visits.features_of(client.execute).modern_types
        else "toDateTime(intDiv(ts, 1000))"
    )
    client.execute(
        "INSERT INTO visits (tenant, visitor_id, timestamp_ms, request_id, time, url, ip,"
        " incognito, linked_id, tag, ingested_at)"
        " SELECT %(tenant)s, concat('v', toString(modulo(number, %(visitors)s))),"
        f" ts, concat('r', toString(number)), {time_expr}, 'https://example.com/', '10.0.0.1',"
        " 0, NULL, '{}', now()"
        " FROM (SELECT number, %(start)s + number * %(step)s AS ts"
        " FROM system.numbers LIMIT %(rows)s)",
        {"tenant": TENANT, "visitors": visitors, "start": start_ms, "step": step_ms, "rows": rows},
    )


@pytest.fixture
def big_table(ch_client: Any) -> int:
    """ROWS visits over VISITORS visitors of one tenant, in the last three days."""
    start = now_ms() - 3 * 86_400_000
    generate(ch_client, ROWS, VISITORS, start, 100)
    return start


@pytest.fixture
def pool(clickhouse_endpoint: Any, ch_database: str) -> Iterator[ClientPool]:
    config = ApiConfig.from_env(
        {
            "VH_CLICKHOUSE_HOST": clickhouse_endpoint.host,
            "VH_CLICKHOUSE_PORT": str(clickhouse_endpoint.port),
            "VH_CLICKHOUSE_DATABASE": ch_database,
        }
    )
    pool = ClientPool(config)
    yield pool
    pool.close()


def read_rows(pool: ClientPool, statement: queries.Statement) -> tuple[int, int]:
    query_id = f"vh-test-{uuid.uuid4().hex}"
    rows = pool.execute(
        statement.sql, statement.params, query_id=query_id, settings={"log_queries": 1}
    )
    pool.execute("SYSTEM FLUSH LOGS")
    (read,) = pool.execute(
        "SELECT max(read_rows) FROM system.query_log WHERE query_id = %(id)s", {"id": query_id}
    )[0]
    return int(read), len(rows)


def test_page_query_reads_a_few_granules_not_the_table(
    big_table: int, pool: ClientPool, ch_database: str
) -> None:
    page = VisitQuery("v12345", 0, 2**63 - 1, 100)
    read, returned = read_rows(pool, queries.visit_page(Layout(ch_database), TENANT, page))
    assert returned == ROWS // VISITORS  # every visit of v12345 (10), one row each
    # visits: the visitor's granule(s); the three summary-like tables: one granule each
    # (their default granularity is 8192). A scan would read ROWS and more.
    assert read <= 4 * GRANULE + 3 * 8192, read
    assert read < ROWS // 10

    paged = VisitQuery("v12345", 0, 2**63 - 1, 3, pagination_key="r262345")
    read, returned = read_rows(pool, queries.visit_page(Layout(ch_database), TENANT, paged))
    assert returned == 4  # limit + 1 lookahead
    assert read <= 6 * GRANULE + 3 * 8192, read

    locate = queries.locate_request(Layout(ch_database), TENANT, "r262345")
    read, returned = read_rows(pool, locate)
    assert returned == 1 and read <= 8192, read


def test_a_window_reads_only_the_partitions_of_its_months(
    ch_client: Any, pool: ClientPool, ch_database: str
) -> None:
    # A year of visits, a visitor's rows in every monthly partition. In each partition the
    # visitor's rows sit in a granule shared with other visitors, which the primary key
    # cannot rule out by time: only the partition bounds keep a window from reading it.
    year_start = 1_704_067_200_123  # 2024-01-01T00:00:00.123Z
    generate(ch_client, 240_000, 2_000, year_start, 131_400)  # a visit every 131.4 s
    march, april = 1_709_251_200_000, 1_711_929_600_000
    window = VisitQuery("v77", march + 500, april - 500, 500)
    read, returned = read_rows(pool, queries.visit_page(Layout(ch_database), TENANT, window))
    assert returned == 10  # v77's March visits: 20,000 rows a month over 2,000 visitors
    # One month's granule(s) of visits, not twelve; the summary tables hold 2,000 rows each.
    assert read <= 2 * GRANULE + 3 * 2_000, read
    whole_year = VisitQuery("v77", 0, 2**63 - 1, 500)
    read_all, returned = read_rows(
        pool, queries.visit_page(Layout(ch_database), TENANT, whole_year)
    )
    assert returned == 120 and read_all >= 12 * GRANULE, read_all
