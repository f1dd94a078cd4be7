"""Pages batched into one statement answer exactly as each page's own statement, on 18.16
and the current engine; the coalescer sends a page alone when a slot is free and batches
those that wait, each visitor once per batch."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from query_api import batch_pages, pages, render
from query_api.coalesce import Coalescer
from query_api.params import DAY_MS, VisitQuery, visit_query
from query_api.pool import PoolTimeout
from query_api.v4 import events
from query_api.v4 import params as v4_params
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement
from tests.query_api import visits
from tests.query_api.engines import Engine, erase

TENANT = "acme"
NOW = 1_714_550_400_123


def _answer(query: VisitQuery, page: tuple[list[tuple[Any, ...]], render.Summary]) -> Any:
    return render.visitors(query, *page)


def test_a_batch_answers_as_each_page_alone(engine: Engine) -> None:
    layout = Layout(engine.database)
    rows = [
        visits.visit(TENANT, v, NOW - i * DAY_MS // 3, f"{v}{i}") for v in "ABCD" for i in range(9)
    ]
    rows.append(visits.visit(TENANT, "A", NOW - 2 * DAY_MS, "A1"))  # A1 again, older copy
    rows.append(visits.visit("other", "B", NOW, "theirs"))  # another tenant's visit of B
    engine.insert(rows)
    engine.insert(rows[:3])  # redelivered
    erase(engine, TENANT, "C", NOW - 2 * DAY_MS)  # C's older visits are gone
    patch = v4_params.event_update(b'{"linked_id": "L", "tags": {"k": 1}}')
    events.update(engine.run, layout, TENANT, "D2", patch, NOW)
    cases = {
        "A": {"limit": "2"},
        "B": {},
        "C": {"from": str(NOW - 3 * DAY_MS)},
        "D": {"limit": "3", "before": str(NOW - DAY_MS // 2)},
        "Nobody": {},
        "E": {"from": str(NOW - 40 * DAY_MS), "to": str(NOW - 39 * DAY_MS)},
    }
    batch = [
        visit_query(v, q, now_ms=NOW + 1, default_limit=100, max_limit=500)
        for v, q in cases.items()
    ]
    assert all(batch_pages.batchable(layout, q) for q in batch)
    alone = [_answer(q, pages.load(engine.run, layout, TENANT, q)) for q in batch]
    together = batch_pages.split(engine.run(batch_pages.statement(layout, TENANT, batch)), batch)
    assert [
        _answer(q, pages.assemble(own, q)) for q, own in zip(batch, together, strict=True)
    ] == alone
    # The cases show what they should: paging, erasure, the PATCH, unknown visitors.
    assert alone[0][1]["paginationKey"] == "A1" and len(alone[0][1]["visits"]) == 2
    assert [v["requestId"] for v in alone[2][1]["visits"]] == ["C0", "C1", "C2", "C3", "C4", "C5"]
    d2 = next(v for v in alone[3][1]["visits"] if v["requestId"] == "D2")
    assert (d2["linkedId"], d2["tag"]) == ("L", {"k": 1})
    assert alone[4] == (404, {"visitorId": "Nobody"})


def _query(visitor: str) -> VisitQuery:
    return VisitQuery(visitor, 0, NOW, 10)


def test_the_coalescer_sends_alone_when_free_and_batches_what_waits() -> None:
    sent: list[Statement] = []
    gate = threading.Event()

    def run(statement: Statement) -> list[tuple[Any, ...]]:
        sent.append(statement)
        gate.wait(5)
        return []  # no rows: every visitor unknown (404), which is all this test reads

    async def scenario() -> list[Any]:
        coalescer = Coalescer(run, Layout("db"), slots=1, max_batch=3)
        first = asyncio.ensure_future(coalescer.page(TENANT, _query("A")))
        await asyncio.sleep(0.05)  # A is in flight alone; these wait for its slot
        rest = [asyncio.ensure_future(coalescer.page(TENANT, _query(v))) for v in "BCBDE"]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *rest)

    answers = asyncio.run(scenario())
    assert all(not about.known for _, about in answers)
    batches = [s.params.get("visitors", (s.params.get("visitor"),)) for s in sent]
    # B, C, D (three at most, B once); then B's second page and E.
    assert batches == [("A",), ("B", "C", "D"), ("B", "E")]


def test_a_failed_batch_fails_each_of_its_pages() -> None:
    def run(statement: Statement) -> list[tuple[Any, ...]]:
        raise RuntimeError("down")

    async def scenario() -> list[Any]:
        coalescer = Coalescer(run, Layout("db"), slots=1)
        tasks = [asyncio.ensure_future(coalescer.page(TENANT, _query(v))) for v in "AB"]
        return await asyncio.gather(*tasks, return_exceptions=True)

    assert [type(e) for e in asyncio.run(scenario())] == [RuntimeError, RuntimeError]


def test_a_page_waits_for_a_slot_at_most_the_pools_checkout_timeout() -> None:
    """Under overload pages are refused as a pool checkout refuses them (503), not queued
    without bound; one that timed out is never sent."""
    sent: list[Statement] = []
    gate = threading.Event()

    def run(statement: Statement) -> list[tuple[Any, ...]]:
        sent.append(statement)
        gate.wait(5)
        return []

    async def scenario() -> list[Any]:
        coalescer = Coalescer(run, Layout("db"), slots=1, wait_s=0.1)
        first = asyncio.ensure_future(coalescer.page(TENANT, _query("A")))
        await asyncio.sleep(0.05)  # A holds the only slot
        queued = asyncio.ensure_future(coalescer.page(TENANT, _query("B")))
        alone = VisitQuery("C", 0, NOW, 10, linked_id="L")  # never batched: waits for a slot
        unbatched = asyncio.ensure_future(coalescer.page(TENANT, alone))
        late = await asyncio.gather(queued, unbatched, return_exceptions=True)
        gate.set()
        return [*late, await first]

    queued, unbatched, first = asyncio.run(scenario())
    assert isinstance(queued, PoolTimeout) and isinstance(unbatched, PoolTimeout)
    assert "within 0.1s" in str(queued)
    assert not first[1].known
    assert [s.params.get("visitor") for s in sent] == ["A"]
