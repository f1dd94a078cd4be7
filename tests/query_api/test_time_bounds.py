"""Window bounds are exact to the millisecond on both engines, whatever type ``time`` has.

The page query repeats its window on ``time`` (partition pruning). On current servers that
column is DateTime64(3) with the worker's milliseconds; a bound that rounds the wrong way
drops visits from ``GET /events`` and from the last partial second of ``to`` / ``before``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from query_api.params import MAX_MS, VisitQuery
from query_api.queries import SUMMARY_COLUMNS, VISIT_COLUMNS
from schemas.raw_event import MIN_TIMESTAMP_MS
from tests.query_api import visits
from tests.query_api.engines import ChdbEngine, Engine, get_event, page

TENANT = "acme"
RID = len(SUMMARY_COLUMNS) + VISIT_COLUMNS.index("request_id")
TS = len(SUMMARY_COLUMNS) + VISIT_COLUMNS.index("timestamp_ms")
LAST_DATETIME_MS = (2**32 - 1) * 1000  # 2106-02-07T06:28:15Z, the last DateTime second
YEAR_2100_MS = 4_102_444_800_000
# Month starts: the partition key (toYYYYMM(time)) changes there.
MONTH_EDGES = [946_684_800_000, 1_709_251_200_000, 1_735_689_600_000, 4_099_766_400_000]

bases = st.one_of(
    st.integers(MIN_TIMESTAMP_MS + 10_000, YEAR_2100_MS),
    st.sampled_from(MONTH_EDGES).flatmap(lambda edge: st.integers(edge - 3_000, edge + 3_000)),
)
near = st.integers(-3_000, 3_000)  # a few seconds either side: every partial-second case


@dataclass(frozen=True)
class Case:
    timestamps: list[int]
    from_ms: int
    to_ms: int
    before_ms: int | None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    base = draw(bases)
    timestamps = draw(st.lists(near.map(lambda d: base + d), min_size=1, max_size=6))
    from_ms = draw(st.one_of(st.just(0), near.map(lambda d: base + d)))
    # Upper bounds near the visits, or at the edge past which toDateTime cannot go.
    uppers = st.one_of(
        near.map(lambda d: base + d),
        st.integers(LAST_DATETIME_MS - 2_000, LAST_DATETIME_MS + 2_000),
        st.just(MAX_MS),
    )
    to_ms = draw(uppers)
    before_ms = draw(st.one_of(st.none(), uppers))
    return Case(timestamps, from_ms, to_ms, before_ms)


def check_case(engine: Engine, case: Case) -> None:
    visitor = uuid.uuid4().hex
    history = [
        visits.visit(TENANT, visitor, ts, f"{ts}.{i}") for i, ts in enumerate(case.timestamps)
    ]
    engine.insert(history)
    query = VisitQuery(visitor, case.from_ms, case.to_ms, 100, before_ms=case.before_ms)
    rows, _ = page(engine, TENANT, query)
    returned = [(int(r[TS]), r[RID]) for r in rows if r[RID]]
    expected = sorted(
        (
            (v.timestamp, v.request_id)
            for v in history
            if case.from_ms <= v.timestamp < case.to_ms
            and (case.before_ms is None or v.timestamp < case.before_ms)
        ),
        reverse=True,
    )
    assert returned == expected, case
    for v in history:  # GET /events finds every visit, at its exact millisecond
        body = get_event(engine, TENANT, v.request_id)
        assert body is not None, (v.request_id, engine.name)
        assert body["products"]["identification"]["data"]["timestamp"] == v.timestamp


def test_a_visit_is_returned_iff_its_timestamp_is_in_the_window(engine: Engine) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=cases())
    def check(case: Case) -> None:
        check_case(engine, case)

    check()


def test_events_finds_a_millisecond_visit_on_current_clickhouse(chdb: ChdbEngine) -> None:
    # What the worker stores on current servers: DateTime64(3) with the milliseconds.
    ts = 1_714_550_400_123
    chdb.insert([visits.visit(TENANT, "V", ts, "1714550400123.Ab1cD2")])
    stored = chdb.session.execute(
        f"SELECT toUnixTimestamp64Milli(time) FROM {chdb.database}.visits"
    )
    assert int(stored[0][0]) == ts
    body = get_event(chdb, TENANT, "1714550400123.Ab1cD2")
    assert body is not None, "GET /events/{id} answers 404 for a visit it has"
    data = body["products"]["identification"]["data"]
    assert (data["visitorId"], data["timestamp"], data["time"]) == (
        "V",
        ts,
        "2024-05-01T08:00:00Z",
    )
    # And `to` just after it, within the same second, keeps it.
    rows, _ = page(chdb, TENANT, VisitQuery("V", 0, ts + 500, 10))
    assert [r[RID] for r in rows] == ["1714550400123.Ab1cD2"]
