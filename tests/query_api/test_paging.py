"""The edges of walking GET /visitors/{visitor_id} page by page (issue 11, item 8).

Each is checked on both engines through the API's own statements and decisions
(tests/query_api/engines.py) and once through HTTP on the real server:

- without ``from``, "now" moves between pages: a later page reaches a day further back
  (params.PAGING_GRACE_MS), so the first page's window is never cut short;
- a paginationKey whose visit was erased between two pages ends the walk (200, no visits):
  every visit older than the key was erased with it;
- a requestId stored twice with different timestamps is one event: a walk returns it once,
  as its newest copy, and so does GET /events.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from query_api import queries
from query_api.params import DAY_MS, MAX_MS, VisitQuery
from schemas.clickhouse.layout import Layout
from tests.query_api import contract, visits
from tests.query_api.engines import Engine, erase, get_event, get_visitors, walk
from tests.support.api import TENANT, AppFactory, Secrets, now_ms

HOUR_MS = 3_600_000
PATH = "/visitors/{visitor_id}"


class SteppingClock:
    """ "Now" for the API that moves ``step`` further on each reading (one per page)."""

    def __init__(self, start: int, step: int) -> None:
        self.now, self.step = start, step

    def __call__(self) -> int:
        now, self.now = self.now, self.now + self.step
        return now


def edge_history(visitor: str, t0: int) -> tuple[list[Any], list[str]]:
    """Visits around the edge of the default window at ``t0``; the ids a walk must return."""
    recent = [
        visits.visit(TENANT, visitor, t0 - HOUR_MS + i * 1_000, f"recent-{i}") for i in range(4)
    ]
    # Inside the first page's window, within two hours of its old edge.
    edge = [
        visits.visit(TENANT, visitor, t0 - 10 * DAY_MS + HOUR_MS + i * 1_000, f"edge-{i}")
        for i in range(4)
    ]
    older = visits.visit(TENANT, visitor, t0 - 10 * DAY_MS - HOUR_MS, "older")  # in the grace
    ancient = visits.visit(TENANT, visitor, t0 - 12 * DAY_MS, "ancient")  # beyond it
    expected = [f"recent-{i}" for i in range(3, -1, -1)] + [f"edge-{i}" for i in range(3, -1, -1)]
    return [*recent, *edge, older, ancient], [*expected, "older"]


@pytest.mark.parametrize("key", ["paginationKey", "before"])
def test_a_walk_keeps_its_first_windows_old_edge_while_now_moves(engine: Engine, key: str) -> None:
    t0 = 1_767_225_600_321  # 2026-01-01T00:00:00.321Z
    history, expected = edge_history("W", t0)
    engine.insert(history)
    # Two hours pass between pages: the first page's window starts at t0 - 10 days.
    seen = walk(engine, TENANT, "W", {"limit": "3"}, SteppingClock(t0, 2 * HOUR_MS), key=key)
    assert seen == expected


def get(api: httpx.Client, secret: str, visitor: str, **query: Any) -> httpx.Response:
    response = api.get(f"/visitors/{visitor}", params=query, headers={"Auth-Token": secret})
    contract.check(response, PATH)
    return response


def test_http_walk_with_a_moving_now_drops_nothing(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    t0 = now_ms()
    history, expected = edge_history("W", t0)
    visits.insert(ch_client, history)
    api = app_factory(app_kwargs={"now_ms": SteppingClock(t0, 2 * HOUR_MS)})
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 3}
    while True:
        body = get(api, secrets.acme, "W", **query).json()
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            break
        query["paginationKey"] = body["paginationKey"]
    assert seen == expected


def count_rows(engine: Engine, request_id: str) -> int:
    statement = queries.Statement(
        f"SELECT count() FROM {engine.database}.visits WHERE request_id = %(r)s", {"r": request_id}
    )
    return int(engine.run(statement)[0][0])


def test_a_key_erased_between_pages_ends_the_walk(engine: Engine) -> None:
    t = 1_767_225_600_321
    engine.insert([visits.visit(TENANT, "E", t + i * 1_000, f"e{i}") for i in range(6)])
    engine.insert([visits.visit(TENANT, "N", t, "n0")])
    status, first = get_visitors(engine, TENANT, "E", {"limit": "2"}, now_ms=t + 60_000)
    assert (status, [v["requestId"] for v in first["visits"]]) == (200, ["e5", "e4"])
    key = first["paginationKey"]
    erase(engine, TENANT, "E", t + 10_000)  # between two pages of the walk
    engine.insert([visits.visit(TENANT, "E", t + 20_000, "back")])  # and the visitor returns
    assert count_rows(engine, key) == 0  # the key's visit itself is gone

    answer = get_visitors(engine, TENANT, "E", {"limit": "2", "paginationKey": key}, now_ms=t)
    assert answer == (200, {"visitorId": "E", "visits": []})  # every older visit is erased
    # A key that never was a visit: still a 400 for a visitor without erasures.
    status, body = get_visitors(engine, TENANT, "N", {"paginationKey": "never"}, now_ms=t)
    assert status == 400 and body["error"].startswith("paginationKey: ")


def test_http_a_key_erased_between_pages_answers_an_empty_page(
    api: httpx.Client, secrets: Secrets, ch_client: Any, ch_database: str
) -> None:
    t = now_ms() - 60_000
    visits.insert(ch_client, [visits.visit(TENANT, "E", t + i * 1_000, f"e{i}") for i in range(6)])
    key = get(api, secrets.acme, "E", limit=2).json()["paginationKey"]
    assert api.delete("/visitors/E", headers={"Auth-API-Key": secrets.acme}).status_code == 200
    visits.insert(ch_client, [visits.visit(TENANT, "E", now_ms() + 5_000, "back")])
    wait_for_mutations(ch_client)
    assert ch_client.execute("SELECT count() FROM visits WHERE request_id = %(k)s", {"k": key}) == [
        (0,)
    ]
    response = get(api, secrets.acme, "E", limit=2, paginationKey=key)
    assert (response.status_code, response.json()) == (200, {"visitorId": "E", "visits": []})
    assert [v["requestId"] for v in get(api, secrets.acme, "E").json()["visits"]] == ["back"]


def wait_for_mutations(client: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.execute(
        "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0"
    )[0][0]:
        assert time.monotonic() < deadline, "mutations did not finish"
        time.sleep(0.1)


def redelivered_history(visitor: str, t: int) -> list[Any]:
    """Ten visits one second apart, and "dup" delivered twice with different timestamps:
    first the newer copy, then a late one stamped seven seconds earlier."""
    history = [visits.visit(TENANT, visitor, t + i * 1_000, f"d{i}") for i in range(10)]
    return [*history, visits.visit(TENANT, visitor, t + 8_500, "dup")]


@pytest.mark.parametrize("key", ["paginationKey", "before"])
def test_a_request_id_stored_twice_with_two_timestamps_is_walked_once(
    engine: Engine, key: str
) -> None:
    t = 1_767_225_600_321
    engine.insert(redelivered_history("D", t))
    engine.insert([visits.visit(TENANT, "D", t + 1_500, "dup")])  # the stale copy, later
    seen = walk(engine, TENANT, "D", {"limit": "3", "from": "0"}, lambda: t, key=key)
    # Once, where its newest copy is (8.5 s), never again at the stale copy's place (1.5 s).
    assert seen == ["d9", "dup", "d8", "d7", "d6", "d5", "d4", "d3", "d2", "d1", "d0"]
    _, first = get_visitors(engine, TENANT, "D", {"from": "0"}, now_ms=t)
    assert [v["timestamp"] for v in first["visits"] if v["requestId"] == "dup"] == [t + 8_500]
    # GET /events shows that same copy, whichever one the request index kept.
    engine.run(queries.Statement(f"OPTIMIZE TABLE {engine.database}.request_index FINAL", {}))
    event = get_event(engine, TENANT, "dup")
    assert event is not None
    assert event["products"]["identification"]["data"]["timestamp"] == t + 8_500


def test_http_a_request_id_stored_twice_is_walked_once(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 60_000
    visits.insert(ch_client, redelivered_history("D", t))
    visits.insert(ch_client, [visits.visit(TENANT, "D", t + 1_500, "dup")])
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 3}
    while True:
        body = get(api, secrets.acme, "D", **query).json()
        seen += [v["requestId"] for v in body["visits"]]
        if "paginationKey" not in body:
            break
        query["paginationKey"] = body["paginationKey"]
    assert seen == ["d9", "dup", "d8", "d7", "d6", "d5", "d4", "d3", "d2", "d1", "d0"]
    ch_client.execute("OPTIMIZE TABLE request_index FINAL")
    event = api.get("/events/dup", headers={"Auth-API-Key": secrets.acme})
    contract.check(event, "/events/{request_id}")
    assert event.json()["products"]["identification"]["data"]["timestamp"] == t + 8_500


def test_the_first_page_pays_nothing_for_it() -> None:
    # Most requests are first pages: LIMIT 1 BY already keeps each newest copy there.
    first = queries.visit_page(Layout("db"), TENANT, VisitQuery("D", 0, MAX_MS, 10))
    assert "NOT IN" not in first.sql
    after = queries.visit_page(
        Layout("db"), TENANT, VisitQuery("D", 0, MAX_MS, 10, pagination_key="k")
    )
    assert "NOT IN" in after.sql
