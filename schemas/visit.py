"""The enriched visit: what the worker stores and what the API renders.

The JSON rendering of :class:`IpLocation` and :class:`BrowserDetails` (``msgspec.json.encode``
or ``msgspec.to_builtins``) is exactly the seed's ``ipLocation`` / ``browserDetails`` objects:
same camelCase names, same nesting, same types (``browserMajorVersion`` is a string,
``accuracyRadius`` an integer, ``botProbability`` renders ``0``/``1`` as integers).

Absent data is *omitted*, never invented: every ``IpLocation`` field is optional and
``omit_defaults=True`` drops ``None`` values from the JSON. A visit whose IP has no location
(private, reserved or unknown address) has ``ip_location=None`` and :func:`render_api_visit`
leaves the ``ipLocation`` key out entirely, which the v3 spec allows (``ipLocation`` is not a
required property of ``Visit``) and which the official SDKs read as "no location".
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from schemas.raw_event import RawVisit


class City(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """``ipLocation.city``; ``name`` is the English name."""

    name: str


class Continent(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """``ipLocation.continent``: two-letter code (``EU``) and English name."""

    code: str
    name: str


class Country(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """``ipLocation.country``: ISO 3166-1 alpha-2 code and English name."""

    code: str
    name: str


class Subdivision(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """One entry of ``ipLocation.subdivisions`` (ISO 3166-2 code without country prefix)."""

    iso_code: str
    name: str


class IpLocation(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """``ipLocation`` as the Server API shows it. ``None`` fields are omitted from JSON."""

    accuracy_radius: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    postal_code: str | None = None
    timezone: str | None = None
    city: City | None = None
    continent: Continent | None = None
    country: Country | None = None
    subdivisions: tuple[Subdivision, ...] | None = None


class BrowserDetails(msgspec.Struct, frozen=True, rename="camel"):
    """``browserDetails`` as the Server API shows it (all keys always present).

    ``bot_probability`` is an ``int`` (0 or 1) when derived from the user agent, so it renders
    as the seed's ``0``; a collector-supplied fraction stays a ``float``.
    """

    browser_name: str
    browser_major_version: str
    browser_full_version: str
    os: str
    os_version: str
    device: str
    user_agent: str
    bot_probability: int | float


class EnrichedVisit(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """A raw visit plus what enrichment derived from it. One per ``(workspace_id, request_id)``.

    Encoding this struct gives the internal record (camelCase, incl. ``workspaceId`` and
    ``visitorId``); use :func:`render_api_visit` for the API's visit object.
    """

    workspace_id: str
    request_id: str
    visitor_id: str
    timestamp: int
    url: str
    ip: str
    incognito: bool
    browser_details: BrowserDetails
    ip_location: IpLocation | None = None
    linked_id: str | None = None
    tag: dict[str, Any] | None = None
    # v4 (issue 14). Collector fields: empty (None for the referrer) when not collected.
    origin: str = ""
    client_referrer: str | None = None
    environment_id: str = ""
    sdk_platform: str = ""
    sdk_version: str = ""
    # Enrichment: ASN (0 / empty when unknown), the bot verdict (enrich.bots), and what
    # enriched the visit: GeoIP builds (epoch s, 0 for none), the user-agent rules' version.
    asn: int = 0
    asn_name: str = ""
    asn_network: str = ""
    bot: str = "not_detected"
    geoip_build: int = 0
    asn_build: int = 0
    ua_rules: str = ""


def enriched(
    raw: RawVisit,
    browser_details: BrowserDetails,
    ip_location: IpLocation | None,
    *,
    asn: tuple[int, str, str] | None = None,
    bot: str = "not_detected",
    geoip_build: int = 0,
    asn_build: int = 0,
    ua_rules: str = "",
) -> EnrichedVisit:
    """``raw`` with what enrichment derived from it: the one place a visit's fields are copied.

    ``asn``: (number, organisation, network) or None; the builds and ``ua_rules`` say what
    enriched it (:class:`EnrichedVisit`)."""
    number, asn_name, asn_network = asn or (0, "", "")
    return EnrichedVisit(
        workspace_id=raw.workspace_id,
        request_id=raw.request_id,
        visitor_id=raw.visitor_id,
        timestamp=raw.timestamp,
        url=raw.url,
        ip=raw.ip,
        incognito=raw.incognito,
        browser_details=browser_details,
        ip_location=ip_location,
        linked_id=raw.linked_id,
        tag=raw.tag,
        origin=raw.origin or "",
        client_referrer=raw.client_referrer,
        environment_id=raw.environment_id or "",
        sdk_platform=raw.sdk.platform if raw.sdk is not None else "",
        sdk_version=raw.sdk.version if raw.sdk is not None else "",
        asn=number,
        asn_name=asn_name,
        asn_network=asn_network,
        bot=bot,
        geoip_build=geoip_build,
        asn_build=asn_build,
        ua_rules=ua_rules,
    )


def ipv6_key(value: int) -> str:
    """An IPv6 address's 128-bit value as ``visits.ip_key`` / ``event_index.key`` hold it: 32
    upper-case hex digits, so that byte order is text order and a CIDR range a key range."""
    return f"{value:032X}"


_MAPPED_V4: Final = 0xFFFF << 32


def ip_key(ip: str) -> str:
    """``ip`` (IPv4 or IPv6 text) as :func:`ipv6_key`, IPv4 mapped as ``::ffff:a.b.c.d``;
    empty for text that is no address. Never raises."""
    try:
        if ":" in ip:
            return ipv6_key(int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big"))
        return ipv6_key(_MAPPED_V4 | int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big"))
    except (OSError, ValueError):
        return ""


def iso_time(timestamp_ms: int) -> str:
    """Epoch milliseconds -> the API's ``time`` string, e.g. ``2019-05-21T16:40:13Z`` (UTC)."""
    return datetime.fromtimestamp(timestamp_ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_api_visit(visit: EnrichedVisit) -> dict[str, Any]:
    """Render one visit as the seed's visit object (JSON-ready builtins).

    Keys, in the seed's order: ``incognito``, ``linkedId`` (only when set), ``time``, ``url``,
    ``ip``, ``ipLocation`` (only when known), ``browserDetails``. Fields the v3 API adds
    (``requestId``, ``timestamp``, ``tag``, ...) are the query API's business. Never raises.
    """
    out: dict[str, Any] = {"incognito": visit.incognito}
    if visit.linked_id is not None:
        out["linkedId"] = visit.linked_id
    out["time"] = iso_time(visit.timestamp)
    out["url"] = visit.url
    out["ip"] = visit.ip
    if visit.ip_location is not None:
        out["ipLocation"] = msgspec.to_builtins(visit.ip_location)
    out["browserDetails"] = msgspec.to_builtins(visit.browser_details)
    return out
