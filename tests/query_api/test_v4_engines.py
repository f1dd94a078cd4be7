"""The v4 operations (query_api.v4.events) on both engines: the 18.16 server and the current
engine in-process (chdb), with the same expectations."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from query_api.errors import ApiError
from query_api.v4 import events, params
from schemas.clickhouse.layout import Layout
from schemas.visit import EnrichedVisit
from tests.query_api import visits
from tests.query_api.engines import Engine, erase, get_event

TENANT = "acme"
NOW = 1_714_550_400_123  # 2024-05-01T08:00:00.123Z


def v(visitor: str, ts: int, rid: str, **changes: Any) -> EnrichedVisit:
    base = visits.visit(TENANT, visitor, ts, rid)
    return msgspec.structs.replace(base, **changes) if changes else base


def search(engine: Engine, **query: str) -> list[str]:
    parsed = params.search(query, now_ms=NOW)
    body = events.search(engine.run, Layout(engine.database), TENANT, parsed)
    return [e["event_id"] for e in body["events"]]


def walk(engine: Engine, limit: int, **query: str) -> list[str]:
    seen: list[str] = []
    while True:
        parsed = params.search({**query, "limit": str(limit)}, now_ms=NOW)
        body = events.search(engine.run, Layout(engine.database), TENANT, parsed)
        seen += [e["event_id"] for e in body["events"]]
        if "pagination_key" not in body:
            return seen
        query = {**query, "pagination_key": body["pagination_key"]}


def test_search_get_update_erase(engine: Engine) -> None:
    layout = Layout(engine.database)
    engine.insert(
        [
            v("A", NOW - 5000, "a1", linked_id="L", ip="81.2.69.160", asn=7),
            v("A", NOW - 4000, "a2", ip="2001:db8::5", bot="bad"),
            v("B", NOW - 3000, "b1", linked_id="L", incognito=True, origin="https://o"),
        ]
    )
    engine.insert([v("A", NOW - 4000, "a2", ip="2001:db8::5", bot="bad")])  # redelivered
    assert search(engine) == ["b1", "a2", "a1"]
    assert walk(engine, 1) == ["b1", "a2", "a1"]
    assert walk(engine, 2, reverse="true") == ["a1", "a2", "b1"]
    assert search(engine, linked_id="L") == ["b1", "a1"]
    assert search(engine, ip_address="81.2.0.0/16") == ["a1"]
    assert search(engine, ip_address="2001:db8::/64") == ["a2"]
    assert search(engine, asn="7") == ["a1"]
    assert search(engine, bot="bad") == ["a2"]
    assert search(engine, incognito="true", origin="https://o") == ["b1"]
    assert search(engine, visitor_id="A", total_hits="10") == ["a2", "a1"]

    got = events.get(engine.run, layout, TENANT, "a2")
    assert got["identification"] == {
        "visitor_id": "A",
        "visitor_found": True,
        "first_seen_at": NOW - 5000,
        "last_seen_at": NOW - 5000,
    }
    assert got["ip_info"] == {"v6": {"address": "2001:db8::5"}}

    change = params.event_update(b'{"linked_id": "M", "suspect": true, "tags": {"k": 1}}')
    assert events.update(engine.run, layout, TENANT, "a2", change, NOW) == "A"
    got = events.get(engine.run, layout, TENANT, "a2")
    assert (got["linked_id"], got["suspect"], got["tags"]) == ("M", True, {"k": 1})
    assert search(engine, linked_id="M") == ["a2"]
    assert search(engine, suspect="true") == ["a2"]
    change = params.event_update(b'{"linked_id": "N"}')
    events.update(engine.run, layout, TENANT, "a2", change, NOW - 10)  # a clock behind
    assert search(engine, linked_id="M") == [] and search(engine, linked_id="N") == ["a2"]
    assert events.get(engine.run, layout, TENANT, "a2")["suspect"] is True
    # v3's reads show the update on this engine too.
    legacy = get_event(engine, TENANT, "a2")
    assert legacy is not None
    data = legacy["products"]["identification"]["data"]
    assert (data["linkedId"], data["tag"]) == ("N", {"k": 1})

    erase(engine, TENANT, "A", NOW)
    assert search(engine) == ["b1"]
    assert search(engine, suspect="true") == []
    with pytest.raises(ApiError) as missing:
        events.get(engine.run, layout, TENANT, "a2")
    assert missing.value.code == "event_not_found"
