"""Stored visits -> Server API v4 ``Event`` objects (snake_case): pure.

Only what this pipeline really has is rendered: v4's ``Event`` forbids unknown properties,
and a field we cannot compute (confidence, Smart Signals we never collect) is left out rather
than invented (``docs/api.md`` lists them).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from query_api.v4.queries import ROW_COLUMNS

_C = {name: i for i, name in enumerate(ROW_COLUMNS)}
#: Where a row of ``queries.visit_rows`` holds its timestamp_ms.
TIMESTAMP = _C["timestamp_ms"]


@dataclass(frozen=True, slots=True)
class Update:
    """An event's override state (None: the visit's own value; suspect None: never set)."""

    linked_id: str | None
    tags: str | None
    suspect: int | None


@dataclass(frozen=True, slots=True)
class AsOf:
    """The visitor's earlier visits at the time of an event: how many, first and last ms."""

    earlier: int
    first_ms: int
    last_ms: int


#: ua-parser's device families of desktop computers that v4 reports as ``"Other"``, as
#: Fingerprint does (the v3 seed's Windows example); other desktops already parse as
#: "Other", phones and tablets keep their model ("iPhone", "Samsung SM-G991B").
_DESKTOP_FAMILIES = frozenset({"Mac"})


def device(family: str) -> str:
    """``browser_details.device`` as Fingerprint reports it."""
    return "Other" if family in _DESKTOP_FAMILIES else family


def _tags(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}  # the writers store valid JSON; a damaged row must not fail a page
    return value if isinstance(value, dict) else {"value": value}


def _geolocation(row: Sequence[Any]) -> dict[str, Any] | None:
    if not row[_C["has_location"]]:
        return None
    out: dict[str, Any] = {}
    for name in (
        "accuracy_radius", "latitude", "longitude", "postal_code", "timezone", "city_name",
        "country_code", "country_name", "continent_code", "continent_name",
    ):  # fmt: skip
        if row[_C[name]] is not None:
            out[name] = row[_C[name]]
    codes, names = row[_C["subdivision_iso_codes"]], row[_C["subdivision_names"]]
    if codes:
        out["subdivisions"] = [
            {"iso_code": c, "name": n} for c, n in zip(codes, names, strict=False)
        ]
    return out


def ip_info(row: Sequence[Any]) -> dict[str, Any]:
    """``ip_info``: the address under ``v4`` or ``v6`` with what GeoIP and the ASN database
    said of it; an IPv4-mapped IPv6 address counts as IPv4, as its geolocation does."""
    text = str(row[_C["ip"]])
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return {}
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    info: dict[str, Any] = {"address": str(address)}
    geolocation = _geolocation(row)
    if geolocation:
        info["geolocation"] = geolocation
    if row[_C["asn"]]:
        info["asn"] = str(row[_C["asn"]])
        for name in ("asn_name", "asn_network"):
            if row[_C[name]]:
                info[name] = row[_C[name]]
    return {"v4" if address.version == 4 else "v6": info}


def identification(visitor_id: str, timestamp: int, as_of: AsOf | None) -> dict[str, Any]:
    """``visitor_found``, ``first_seen_at`` and ``last_seen_at`` as they were at the event:
    found when the visitor had an earlier (not erased) visit; first seen is the earliest of
    them, or this event; last seen the latest earlier visit, absent for a first visit."""
    out: dict[str, Any] = {"visitor_id": visitor_id}
    found = as_of is not None and as_of.earlier > 0
    out["visitor_found"] = found
    out["first_seen_at"] = as_of.first_ms if as_of is not None and found else timestamp
    if as_of is not None and found:
        out["last_seen_at"] = as_of.last_ms
    return out


def event(row: Sequence[Any], update: Update | None, as_of: AsOf | None) -> dict[str, Any]:
    """One stored visit row (``queries.ROW_COLUMNS``) as a v4 ``Event``."""
    ts = int(row[_C["timestamp_ms"]])
    visitor = str(row[_C["visitor_id"]])
    out: dict[str, Any] = {
        "event_id": row[_C["request_id"]],
        "timestamp": ts,
        "identification": identification(visitor, ts, as_of),
    }
    linked = update.linked_id if update is not None and update.linked_id is not None else None
    if linked is None:
        linked = row[_C["linked_id"]]
    if linked is not None:
        out["linked_id"] = linked
    if row[_C["environment_id"]]:
        out["environment_id"] = row[_C["environment_id"]]
    if update is not None and update.suspect is not None:
        out["suspect"] = bool(update.suspect)
    if row[_C["sdk_platform"]]:
        out["sdk"] = {"platform": row[_C["sdk_platform"]], "version": row[_C["sdk_version"]]}
    out["replayed"] = False
    tags = update.tags if update is not None and update.tags is not None else row[_C["tag"]]
    out["tags"] = _tags(tags)
    out["url"] = row[_C["url"]]
    out["ip_address"] = row[_C["ip"]]
    out["user_agent"] = row[_C["user_agent"]]
    if row[_C["client_referrer"]] is not None:
        out["client_referrer"] = row[_C["client_referrer"]]
    out["browser_details"] = {
        "browser_name": row[_C["browser_name"]],
        "browser_major_version": row[_C["browser_major_version"]],
        "browser_full_version": row[_C["browser_full_version"]],
        "os": row[_C["os"]],
        "os_version": row[_C["os_version"]],
        "device": device(row[_C["device"]]),
    }
    out["bot"] = row[_C["bot"]] or "not_detected"
    out["incognito"] = bool(row[_C["incognito"]])
    info = ip_info(row)
    if info:
        out["ip_info"] = info
    return out


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
