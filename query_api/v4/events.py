"""The v4 operations, over any statement runner: search, get and update events.

Blocking (they run in Starlette's thread pool, one hop per request); each takes ``run``, a
callable that executes a :class:`Statement` where it must run (the API's
``ClientPool.run``; the tests also pass chdb's, so the same steps are proven on the current
engine). The SQL is in :mod:`query_api.v4.queries`, the rendering in :mod:`.render`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import msgspec

from query_api import page_rows
from query_api import queries as v3_queries
from query_api.errors import ApiError
from query_api.v4 import params, queries, render
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

Run = Callable[[Statement], list[tuple[Any, ...]]]
Event = tuple[str, str, int]  # (visitor_id, request_id, timestamp_ms)


def _event_not_found() -> ApiError:
    return ApiError(404, "event_not_found", "event id not found")


def _not_ready() -> ApiError:
    return ApiError(409, "state_not_ready", "event is not ready for updates yet, retry")


def _stored(
    run: Run, layout: Layout, tenant: str, found: Sequence[Event]
) -> dict[tuple[str, str], Any]:
    if not found:
        return {}
    stored = run(queries.visit_rows(layout, tenant, found))
    return render.newest_rows([(v, r, ts, *page_rows.decode(body)) for v, r, ts, body in stored])


def load(run: Run, layout: Layout, tenant: str, found: Sequence[Event]) -> list[dict[str, Any]]:
    """The v4 events of these located events, in their order; erased ones left out."""
    rows = _stored(run, layout, tenant, found)
    # Times of the stored copies shown (the newest), not of the index row that found them.
    shown = [(v, r, int(rows[(v, r)][render.TIMESTAMP])) for v, r, _ in found if (v, r) in rows]
    if not shown:
        return []
    changed = {
        (str(v), str(r)): render.Update(linked, tags, None if suspect is None else int(suspect))
        for v, r, linked, tags, suspect, _ in run(
            queries.updates(layout, tenant, [(v, r) for v, r, _ in shown])
        )
    }
    history = {
        int(i): render.AsOf(int(n), int(first), int(last))
        for i, n, first, last in run(queries.as_of(layout, tenant, shown))
    }
    return [
        render.event(rows[(v, r)], changed.get((v, r)), history.get(i))
        for i, (v, r, _) in enumerate(shown)
    ]


def _visitor_known(run: Run, layout: Layout, tenant: str, visitor_id: str) -> bool:
    rows = run(v3_queries.visitor_state(layout, tenant, visitor_id))
    count, last_seen, erased_at = (int(v) for v in rows[0])
    return count > 0 and last_seen > erased_at


def search(run: Run, layout: Layout, tenant: str, query: params.Search) -> dict[str, Any]:
    """GET /v4/events' body. Raises ApiError 404 for a visitor_id filter naming a visitor
    the tenant does not have (v4's ``visitor_not_found``)."""
    if query.visitor_id is not None and not _visitor_known(run, layout, tenant, query.visitor_id):
        raise ApiError(404, "visitor_not_found", "visitor not found")
    if query.matches_nothing:
        return render.search_page([], None, 0 if query.total_hits else None)
    found = _candidates(run, layout, tenant, query)
    key = None
    if len(found) > query.limit:
        found = found[: query.limit]
        _, request, ts = found[-1]
        key = params.encode_cursor(params.Cursor(query.start_ms, query.end_ms, ts, request))
    total = None
    if query.total_hits is not None:
        total = int(run(queries.total_hits(layout, tenant, query, query.total_hits))[0][0])
    return render.search_page(load(run, layout, tenant, found), key, total)


#: The first slice of the tenant's time line a search without a narrower key reads, and how
#: much each next slice grows: 18.16 reads all of a key range before ORDER BY ... LIMIT (no
#: read-in-order), so a 7-day window would cost a week of index rows for 10 events. Slices
#: make it cost about the page: the last slice holds at most 8 times what the page needed.
FIRST_SLICE_MS = 60_000
SLICE_GROWTH = 8


def _candidates(run: Run, layout: Layout, tenant: str, query: params.Search) -> list[Event]:
    """Up to limit + 1 events from the search's position on, reading the time line (access
    path ``t``) in growing slices from that position; the other paths read their key whole."""
    fetch = query.limit + 1

    def read(part: params.Search) -> list[Event]:
        rows = run(queries.candidates(layout, tenant, part, fetch=fetch))
        return [(str(v), str(r), int(t)) for v, r, t in rows]

    if queries.access_path(query)[0] != "t":
        return read(query)
    low, high = query.start_ms, query.end_ms
    if query.after is not None:  # the cursor's own millisecond stays in (ties on time)
        low, high = (
            (query.after.timestamp_ms, high)
            if query.reverse
            else (low, query.after.timestamp_ms + 1)
        )
    span = FIRST_SLICE_MS
    while True:
        edge = min(high, low + span) if query.reverse else max(low, high - span)
        part = (
            replace(query, start_ms=low, end_ms=edge)
            if query.reverse
            else replace(query, start_ms=edge, end_ms=high)
        )
        found = read(part)
        if len(found) >= fetch or (edge >= high if query.reverse else edge <= low):
            return found
        span *= SLICE_GROWTH


def locate(run: Run, layout: Layout, tenant: str, event_id: str) -> Event | None:
    """Where a tenant's event is stored (the request index), erased or not."""
    found = run(v3_queries.locate_request(layout, tenant, event_id))
    return (str(found[0][0]), event_id, int(found[0][1])) if found else None


def get(run: Run, layout: Layout, tenant: str, event_id: str) -> dict[str, Any]:
    """GET /v4/events/{event_id}'s body. Raises ApiError 404 ``event_not_found``."""
    located = locate(run, layout, tenant, event_id)
    events = load(run, layout, tenant, [located] if located else [])
    if not events:
        raise _event_not_found()
    return events[0]


def update(
    run: Run, layout: Layout, tenant: str, event_id: str, change: params.EventUpdate, now_ms: int
) -> str:
    """PATCH /v4/events/{event_id}: the new override state is the previous update's with
    ``change`` on top, one row of ``event_updates``; a new linked id also gets its index row.
    Returns the event's visitor (whose replicas must see the write). Raises ApiError: 409
    ``state_not_ready`` for an unknown id that may still be on its way through Kafka
    (:func:`params.may_be_in_flight`), 404 for any other unknown or erased event."""
    located = locate(run, layout, tenant, event_id)
    if located is None:
        raise _not_ready() if params.may_be_in_flight(event_id, now_ms) else _event_not_found()
    rows = _stored(run, layout, tenant, [located])
    if not rows:
        raise _event_not_found()
    visitor = located[0]
    event = (visitor, event_id, int(next(iter(rows.values()))[render.TIMESTAMP]))
    before = run(queries.updates(layout, tenant, [(visitor, event_id)]))
    linked, tags, suspect, previous = before[0][2:] if before else (None, None, None, 0)
    if isinstance(change.linked_id, str):
        linked = change.linked_id
    if isinstance(change.tags, dict):
        tags = msgspec.json.encode(change.tags, order="sorted").decode()
    if isinstance(change.suspect, bool):
        suspect = int(change.suspect)
    # Newest wins: never at or below the version it replaces, whatever the clock did.
    version = max(now_ms, int(previous) + 1)
    run(queries.record_update(layout, tenant, event, (linked, tags, suspect), version))
    if isinstance(change.linked_id, str):
        run(queries.index_linked(layout, tenant, event, change.linked_id))
    return visitor
