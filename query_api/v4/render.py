"""Stored visits -> Server API v4 ``Event`` objects (snake_case): pure.

The event itself is ``schemas.v4_event``'s (the worker's enriched stream renders the same
one); here: the API's column order, the newest copy of an event, the search page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from query_api.v4.queries import ROW_COLUMNS
from schemas.v4_event import AsOf, EventRenderer, Update, device, identification

__all__ = [
    "TIMESTAMP", "AsOf", "Update", "device", "event", "identification", "ip_info",
    "newest_rows", "search_page",
]  # fmt: skip

_C = {name: i for i, name in enumerate(ROW_COLUMNS)}
#: Where a row of ``queries.visit_rows`` holds its timestamp_ms.
TIMESTAMP = _C["timestamp_ms"]

_RENDERER = EventRenderer(ROW_COLUMNS)
#: One stored visit row (``queries.ROW_COLUMNS``) as a v4 ``Event``.
event = _RENDERER.event
ip_info = _RENDERER.ip_info


def newest_rows(
    rows: Sequence[Sequence[Any]],
) -> dict[tuple[str, str], Sequence[Any]]:
    """One row per (visitor, event): its newest stored copy (a requestId stored twice with
    two timestamps shows once, as on v3)."""
    out: dict[tuple[str, str], Sequence[Any]] = {}
    ts = _C["timestamp_ms"]
    for row in rows:
        key = (str(row[_C["visitor_id"]]), str(row[_C["request_id"]]))
        if key not in out or int(row[ts]) > int(out[key][ts]):
            out[key] = row
    return out


def search_page(
    events: list[dict[str, Any]], pagination_key: str | None, total: int | None
) -> dict[str, Any]:
    """``EventSearch``: the events, the key of the next page when more remain, total_hits
    when asked."""
    out: dict[str, Any] = {"events": events}
    if pagination_key is not None:
        out["pagination_key"] = pagination_key
    if total is not None:
        out["total_hits"] = total
    return out
