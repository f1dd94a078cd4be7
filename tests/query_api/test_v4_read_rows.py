"""GET /v4/events reads rows in proportion to its answer, not to the tenant's history, per
ClickHouse's own query_log: every statement of a search (candidates from event_index, the
page's visits, their updates, their as-of history) is counted, for a search by linked id,
by IP range, by time window and by the default window, before and after the tenant's
history grows fourfold. (How many granules a lookup opens also depends on how many parts
ClickHouse holds at that moment; each measurement runs after OPTIMIZE ... FINAL.)"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from query_api.pool import ClientPool
from query_api.v4 import events, params
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement
from tests.query_api import visits
from tests.query_api.test_read_rows import GRANULE, generate, pool  # noqa: F401 (fixture)
from tests.support.api import TENANT, now_ms

ANSWER = 30  # events of the linked id, and of the IP range


class Counted:
    """A statement runner that sums what ClickHouse says each statement read."""

    def __init__(self, clients: ClientPool) -> None:
        self.pool, self.ids = clients, list[str]()

    def __call__(self, statement: Statement) -> list[tuple[Any, ...]]:
        query_id = f"vh-v4-{uuid.uuid4().hex}"
        self.ids.append(query_id)
        return self.pool.execute(
            statement.sql, statement.params, query_id=query_id, settings={"log_queries": 1}
        )

    def total(self) -> int:
        self.pool.execute("SYSTEM FLUSH LOGS")
        (read,) = self.pool.execute(
            "SELECT sum(read_rows) FROM system.query_log WHERE query_id IN %(ids)s"
            " AND type = 2",  # QueryFinish
            {"ids": tuple(self.ids)},
        )[0]

        return int(read)


def measure(clients: ClientPool, database: str, query: dict[str, str], now: int) -> tuple[int, int]:
    # One part per partition first: a lookup costs a granule in each part it opens, and the
    # number of parts (which merges keep bounded) is not what this test compares.
    for table in ("visits", "event_index"):
        clients.execute(f"OPTIMIZE TABLE {database}.{table} FINAL")
    run = Counted(clients)
    body = events.search(run, Layout(database), TENANT, params.search(query, now_ms=now))
    return run.total(), len(body["events"])


def test_searches_read_their_answer_not_the_tenant(
    ch_client: Any,
    pool: ClientPool,  # noqa: F811
    ch_database: str,
) -> None:
    now = now_ms()
    day = 86_400_000
    start = now - 3 * day
    generate(ch_client, 100_000, 10_000, start, 2_000)  # a visit every 2 s for 2.3 days
    answers = [
        msgspec.structs.replace(
            visits.visit(TENANT, f"x{i}", now - 3_600_000 + i, f"x{i}", linked_id="L"),
            ip="10.9.9.9",
        )
        for i in range(ANSWER)
    ] + [
        msgspec.structs.replace(
            visits.visit(TENANT, f"y{i}", now - 7_200_000 + i, f"y{i}"), ip=f"81.2.69.{i}"
        )
        for i in range(ANSWER)
    ]
    visits.insert(ch_client, answers)
    window_start = start + 1_000_000  # 25 generated visits, one every 2 s, in 50 s
    searches = {
        "linked_id": {"linked_id": "L", "limit": "100"},
        "ip range": {"ip_address": "81.2.69.0/24", "limit": "100"},
        "time": {
            "start": str(window_start),
            "end": str(window_start + 49_999),
            "limit": "100",
        },
        # The default: the last 7 days, 10 events. Read in growing slices from now.
        "last 7 days": {"limit": "10"},
    }
    before = {name: measure(pool, ch_database, q, now) for name, q in searches.items()}
    assert {name: n for name, (_, n) in before.items()} == {
        "linked_id": ANSWER,
        "ip range": ANSWER,
        "time": 25,
        "last 7 days": 10,
    }
    # Four times the history, the same answers.
    generate(ch_client, 300_000, 30_000, start + 1, 666)
    after = {name: measure(pool, ch_database, q, now) for name, q in searches.items()}
    # The time window now also holds the new visits at start + 1 + 666 k.
    added = len(range(-(-(1_000_000 - 1) // 666), (1_049_999 - 1) // 666 + 1))
    for name, (read, returned) in after.items():
        read_before, returned_before = before[name]
        assert returned == returned_before + (added if name == "time" else 0), name
        print(f"{name}: {returned} events, read {read_before} rows at 100k visits, {read} at 400k")
        # Each event of the answer costs a few granules (its index rows, its visit, its
        # visitor's earlier visits; index_granularity 2048; one granule of each per monthly
        # partition the data spans, here two), and nothing grows with the tenant: at 400,000
        # visits (about 1.6 million index rows) the bound is the same as at 100,000.
        assert read <= 4 * GRANULE * (returned + 2), (name, read)
        if name != "time":  # 30 or 10 events: far below even the visits alone
            assert read < 400_000 // 2, (name, read)
