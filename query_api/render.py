"""ClickHouse rows -> the Server API's JSON objects (v3 shapes, the seed's field values): pure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from query_api.params import BadParameter, VisitQuery
from query_api.queries import SUMMARY_COLUMNS, VISIT_COLUMNS
from schemas.visit import iso_time

_S = {name: i for i, name in enumerate(SUMMARY_COLUMNS)}
_V = {name: i + len(SUMMARY_COLUMNS) for i, name in enumerate(VISIT_COLUMNS)}


@dataclass(frozen=True, slots=True)
class Summary:
    """What the page query says about the visitor itself; times in epoch ms, None if unknown."""

    known: bool
    first_seen: int | None
    last_seen: int | None
    global_first_seen: int | None
    global_last_seen: int | None
    key_found: bool
    erased: bool  # the tenant erased this visitor at least once


def seen_at(ms: int | None) -> str | None:
    """firstSeenAt/lastSeenAt text: milliseconds shown only when non-zero, as the v3 example."""
    if ms is None:
        return None
    if ms % 1000 == 0:
        return iso_time(ms)
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{ms % 1000:03d}Z"
    )


def summary(row: Sequence[Any]) -> Summary:
    """Read the summary columns of any row of the page query.

    A visitor is known when it has visits after its latest erasure. Until ClickHouse has
    applied an erasure's mutation the stored first-seen may predate it; then it is reported as
    unknown (null, which v3 allows) rather than leak the erased history.
    """
    erased = int(row[_S["erased_at"]])
    count, first, last = (int(row[_S[n]]) for n in ("visit_count", "first_seen", "last_seen"))
    known = count > 0 and last > erased
    return Summary(
        known=known,
        first_seen=first if known and first > erased else None,
        last_seen=last if known else None,
        global_first_seen=int(row[_S["global_first_seen"]]) or None,
        global_last_seen=int(row[_S["global_last_seen"]]) or None,
        key_found=int(row[_S["key_found"]]) > 0,
        erased=erased > 0,
    )


def _probability(value: float) -> int | float:
    # Stored as Float32: 0.87 comes back as 0.8700000047683716; 7 significant digits is what
    # Float32 holds. Whole values render as integers, like the seed's "botProbability": 0.
    rounded = float(f"{value:.7g}")
    return int(rounded) if rounded in (0.0, 1.0) else rounded


def _location(row: Sequence[Any]) -> dict[str, Any] | None:
    if not row[_V["has_location"]]:
        return None
    out: dict[str, Any] = {}
    for key, column in (
        ("accuracyRadius", "accuracy_radius"),
        ("latitude", "latitude"),
        ("longitude", "longitude"),
        ("postalCode", "postal_code"),
        ("timezone", "timezone"),
    ):
        if row[_V[column]] is not None:
            out[key] = row[_V[column]]
    if row[_V["city_name"]] is not None:
        out["city"] = {"name": row[_V["city_name"]]}
    for key, prefix in (("country", "country"), ("continent", "continent")):
        code, name = row[_V[prefix + "_code"]], row[_V[prefix + "_name"]]
        if code is not None and name is not None:
            out[key] = {"code": code, "name": name}
    codes, names = row[_V["subdivision_iso_codes"]], row[_V["subdivision_names"]]
    if codes:
        out["subdivisions"] = [
            {"isoCode": c, "name": n} for c, n in zip(codes, names, strict=False)
        ]
    return out


def _tag(text: str) -> Any:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}  # the worker writes valid JSON; a damaged row must not fail the whole page
    return value if isinstance(value, dict) else {"value": value}


def visit(row: Sequence[Any], about: Summary) -> dict[str, Any]:
    """One row of the page query -> the v3 ``Visit`` object (keys in the seed's order)."""
    ts = int(row[_V["timestamp_ms"]])
    out: dict[str, Any] = {
        "requestId": row[_V["request_id"]],
        "incognito": bool(row[_V["incognito"]]),
    }
    if row[_V["linked_id"]] is not None:
        out["linkedId"] = row[_V["linked_id"]]
    out["time"] = iso_time(ts)
    out["timestamp"] = ts
    out["url"] = row[_V["url"]]
    out["ip"] = row[_V["ip"]]
    location = _location(row)
    if location is not None:
        out["ipLocation"] = location
    out["browserDetails"] = {
        "browserName": row[_V["browser_name"]],
        "browserMajorVersion": row[_V["browser_major_version"]],
        "browserFullVersion": row[_V["browser_full_version"]],
        "os": row[_V["os"]],
        "osVersion": row[_V["os_version"]],
        "device": row[_V["device"]],
        "userAgent": row[_V["user_agent"]],
        "botProbability": _probability(float(row[_V["bot_probability"]])),
    }
    out["tag"] = _tag(row[_V["tag"]])
    # "Identified before": an earlier visit of this visitor exists in this subscription.
    out["visitorFound"] = about.first_seen is None or ts > about.first_seen
    out["firstSeenAt"] = {
        "global": seen_at(about.global_first_seen),
        "subscription": seen_at(about.first_seen),
    }
    out["lastSeenAt"] = {
        "global": seen_at(about.global_last_seen),
        "subscription": seen_at(about.last_seen),
    }
    return out


def has_visit(row: Sequence[Any]) -> bool:
    """False for the lone summary row the page query returns when no visit matched."""
    return bool(row[_V["request_id"]])


def page(
    visitor_id: str, rows: Sequence[Sequence[Any]], limit: int, about: Summary
) -> dict[str, Any]:
    """``VisitorsGetResponse``: up to ``limit`` visits; paging keys when a further row came."""
    visits = [visit(r, about) for r in rows if has_visit(r)]
    out: dict[str, Any] = {"visitorId": visitor_id, "visits": visits[:limit]}
    if len(visits) > limit:
        last = visits[limit - 1]
        out["lastTimestamp"] = last["timestamp"]
        out["paginationKey"] = last["requestId"]
    return out


def visitors(
    query: VisitQuery, rows: Sequence[Sequence[Any]], about: Summary
) -> tuple[int, dict[str, Any]]:
    """GET /visitors/{visitor_id}'s status and body from the page query's rows.

    404 ``{visitorId}`` when the tenant never saw the visitor (or erased it). Raises
    BadParameter (a 400) for a paginationKey that is no visit of this visitor, unless the
    visitor has an erasure: then the key's visit was most likely erased between two pages.
    It was at or before the erasure instant (erasure deletes nothing later), so every older
    visit, all the walk had left, is erased too: the walk is over, 200 with no visits.
    """
    if not about.known:
        return 404, {"visitorId": query.visitor_id}
    if query.pagination_key is not None and not about.key_found:
        if about.erased:
            return 200, {"visitorId": query.visitor_id, "visits": []}
        raise BadParameter("paginationKey", "is not the requestId of a visit of this visitor")
    return 200, page(query.visitor_id, rows, query.limit, about)


def event(visitor_id: str, row: Sequence[Any], about: Summary) -> dict[str, Any]:
    """``EventsGetResponse`` with only the identification product, as this service has."""
    data = {"visitorId": visitor_id, **visit(row, about), "replayed": False}
    return {"products": {"identification": {"data": data}}}
