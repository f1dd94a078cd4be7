"""The edges of walking GET /visitors/{visitor_id} page by page (issue 11, item 8).

Each is checked on both engines through the API's own statements and decisions
(tests/query_api/engines.py) and once through HTTP on the real server:

- without ``from``, "now" moves between pages: a later page reaches a day further back
  (params.PAGING_GRACE_MS), so the first page's window is never cut short;
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from query_api.params import DAY_MS
from tests.query_api import contract, visits
from tests.query_api.conftest import TENANT, AppFactory, Secrets, now_ms
from tests.query_api.engines import Engine, walk

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
