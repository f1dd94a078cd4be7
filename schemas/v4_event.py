"""A stored visit row -> a Server API v4 ``Event`` (snake_case): pure, shared by both sides.

The API renders what it reads back (``query_api.v4.render``); the worker renders what it has
just stored for the enriched stream (``ingest.enriched``). One renderer, so the two cannot
drift: the row's column order is the caller's (:class:`EventRenderer` takes the names), the
values are the stored ones (``visits`` as ``schemas.clickhouse.tables.VISITS`` declares it).

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

_GEO_FIELDS = (
    "accuracy_radius", "latitude", "longitude", "postal_code", "timezone", "city_name",
    "country_code", "country_name", "continent_code", "continent_name",
)  # fmt: skip


def device(family: str) -> str:
    """``browser_details.device`` as Fingerprint reports it."""
    return "Other" if family in _DESKTOP_FAMILIES else family


def _tags(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}  # the writers store valid JSON; a damaged row must not fail a page
    return value if isinstance(value, dict) else {"value": value}


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


class EventRenderer:
    """Renders rows whose columns are ``columns`` (names of ``visits`` columns, in the row's
    order; every column the event needs must be among them).

    Raises:
        KeyError: (at construction) a needed column is missing.
    """

    NEEDED = (
        "visitor_id", "request_id", "timestamp_ms", "url", "ip", "incognito", "linked_id",
        "tag", "browser_name", "browser_major_version", "browser_full_version", "os",
        "os_version", "device", "user_agent", "has_location", *_GEO_FIELDS,
        "subdivision_iso_codes", "subdivision_names", "client_referrer", "environment_id",
        "sdk_platform", "sdk_version", "asn", "asn_name", "asn_network", "bot",
    )  # fmt: skip

    def __init__(self, columns: Sequence[str]) -> None:
        at = {name: i for i, name in enumerate(columns)}
        self._c = {name: at[name] for name in self.NEEDED}

    def _geolocation(self, row: Sequence[Any]) -> dict[str, Any] | None:
        c = self._c
        if not row[c["has_location"]]:
            return None
        out: dict[str, Any] = {}
        for name in _GEO_FIELDS:
            if row[c[name]] is not None:
                out[name] = row[c[name]]
        codes, names = row[c["subdivision_iso_codes"]], row[c["subdivision_names"]]
        if codes:
            out["subdivisions"] = [
                {"iso_code": c, "name": n} for c, n in zip(codes, names, strict=False)
            ]
        return out

    def ip_info(self, row: Sequence[Any]) -> dict[str, Any]:
        """``ip_info``: the address under ``v4`` or ``v6`` with what GeoIP and the ASN database
        said of it; an IPv4-mapped IPv6 address counts as IPv4, as its geolocation does."""
        c = self._c
        text = str(row[c["ip"]])
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return {}
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        info: dict[str, Any] = {"address": str(address)}
        geolocation = self._geolocation(row)
        if geolocation:
            info["geolocation"] = geolocation
        if row[c["asn"]]:
            info["asn"] = str(row[c["asn"]])
            for name in ("asn_name", "asn_network"):
                if row[c[name]]:
                    info[name] = row[c[name]]
        return {"v4" if address.version == 4 else "v6": info}

    def event(
        self, row: Sequence[Any], update: Update | None, as_of: AsOf | None
    ) -> dict[str, Any]:
        """One stored visit row as a v4 ``Event``."""
        c = self._c
        ts = int(row[c["timestamp_ms"]])
        visitor = str(row[c["visitor_id"]])
        out: dict[str, Any] = {
            "event_id": row[c["request_id"]],
            "timestamp": ts,
            "identification": identification(visitor, ts, as_of),
        }
        linked = update.linked_id if update is not None and update.linked_id is not None else None
        if linked is None:
            linked = row[c["linked_id"]]
        if linked is not None:
            out["linked_id"] = linked
        if row[c["environment_id"]]:
            out["environment_id"] = row[c["environment_id"]]
        if update is not None and update.suspect is not None:
            out["suspect"] = bool(update.suspect)
        if row[c["sdk_platform"]]:
            out["sdk"] = {"platform": row[c["sdk_platform"]], "version": row[c["sdk_version"]]}
        out["replayed"] = False
        tags = update.tags if update is not None and update.tags is not None else row[c["tag"]]
        out["tags"] = _tags(tags)
        out["url"] = row[c["url"]]
        out["ip_address"] = row[c["ip"]]
        out["user_agent"] = row[c["user_agent"]]
        if row[c["client_referrer"]] is not None:
            out["client_referrer"] = row[c["client_referrer"]]
        out["browser_details"] = {
            "browser_name": row[c["browser_name"]],
            "browser_major_version": row[c["browser_major_version"]],
            "browser_full_version": row[c["browser_full_version"]],
            "os": row[c["os"]],
            "os_version": row[c["os_version"]],
            "device": device(row[c["device"]]),
        }
        out["bot"] = row[c["bot"]] or "not_detected"
        out["incognito"] = bool(row[c["incognito"]])
        info = self.ip_info(row)
        if info:
            out["ip_info"] = info
        return out
