"""GET /v4/events' query string, PATCH /v4/events' body, the opaque pagination key: pure.

Every rejection is a :class:`query_api.params.BadParameter`, which the routes answer with v4's
400 ``request_cannot_be_parsed``. Parameters v4 does not define are ignored, as on v3.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from query_api.params import MAX_MS, BadParameter, instant_ms, request_id, visitor_id
from schemas.visit import ipv6_key

DEFAULT_WINDOW_MS: Final = 7 * 86_400_000  # v4: "by default, the last 7 days"
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
MAX_TOTAL_HITS: Final = 1000
MAX_TEXT: Final = 4096  # a URL filter is as long as a stored URL may be
_BOT: Final = {
    "all": ("good", "bad"),
    "good": ("good",),
    "bad": ("bad",),
    "none": ("not_detected",),
}
_BOOL: Final = {"true": True, "false": False}

#: Filters on signals this pipeline never collects. v4: "only events with the property set
#: ... are returned; events without [it] are left out", so any value (once valid) matches
#: no event. Booleans must still be booleans and enums members, as Fingerprint checks them.
NEVER_COLLECTED_BOOLEANS: Final = (
    "vpn", "virtual_machine", "tampering", "anti_detect_browser", "privacy_settings",
    "jailbroken", "frida", "factory_reset", "cloned_app", "emulator", "root_apps",
    "developer_tools", "location_spoofing", "mitm_attack", "rare_device", "proxy", "tor_node",
    "simulator", "active_call",
)  # fmt: skip
NEVER_COLLECTED_VALUES: Final = (
    "high_recall_id", "bot_info", "bot_info_category", "bot_info_identity",
    "bot_info_confidence", "bot_info_provider", "bot_info_name", "bundle_id", "package_name",
    "vpn_confidence", "min_suspect_score", "rare_device_percentile_bucket", "proximity_id",
    "incremental_identification_status", "sdk_version", "sdk_platform", "environment",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a walk stands: its first page's window and the last event it returned."""

    start_ms: int
    end_ms: int  # exclusive
    timestamp_ms: int
    request_id: str


@dataclass(frozen=True, slots=True)
class Search:
    """One GET /v4/events request. Times are epoch ms, ``end_ms`` exclusive; ``ip_range`` is
    the inclusive (low, high) pair of 32-hex-digit IPv6 forms (``event_index.ip_key``)."""

    start_ms: int
    end_ms: int
    limit: int = DEFAULT_LIMIT
    reverse: bool = False
    visitor_id: str | None = None
    linked_id: str | None = None
    ip_range: tuple[str, str] | None = None
    asn: int | None = None
    url: str | None = None
    origin: str | None = None
    bots: tuple[str, ...] | None = None
    incognito: bool | None = None
    suspect: bool | None = None
    after: Cursor | None = None
    total_hits: int | None = None
    #: A filter on a signal never collected was given: the answer is empty by definition.
    matches_nothing: bool = False


def ip_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address as ``event_index.ip_key`` holds it (``schemas.visit.ip_key``)."""
    if isinstance(address, ipaddress.IPv4Address):
        return ipv6_key(0xFFFF << 32 | int(address))
    return ipv6_key(int(address))


def ip_range(raw: str) -> tuple[str, str]:
    """An address (a /32 or /128) or a CIDR range as the (low, high) ``ip_key`` pair.
    Raises BadParameter."""
    try:
        network = ipaddress.ip_network(raw.strip(), strict=False)
    except ValueError:
        raise BadParameter("ip_address", "must be an IPv4 or IPv6 address or CIDR range") from None
    return ip_key(network.network_address), ip_key(network.broadcast_address)


def _bool(name: str, raw: str) -> bool:
    try:
        return _BOOL[raw.strip().lower()]
    except KeyError:
        raise BadParameter(name, "must be true or false") from None


def _text(name: str, raw: str) -> str:
    if not raw or len(raw) > MAX_TEXT or not raw.isprintable():
        raise BadParameter(name, f"must be 1 to {MAX_TEXT} printable characters")
    return raw


def _int(name: str, raw: str, low: int, high: int) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}")
    return int(text)


def encode_cursor(cursor: Cursor) -> str:
    """The opaque ``pagination_key`` (URL-safe base64 of a small JSON array)."""
    data = msgspec.json.encode(
        [1, cursor.start_ms, cursor.end_ms, cursor.timestamp_ms, cursor.request_id]
    )
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(raw: str) -> Cursor:
    """A ``pagination_key`` this API issued. Raises BadParameter for anything else."""
    bad = BadParameter("pagination_key", "is not a pagination key this API issued")
    if len(raw) > 1024:
        raise bad
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        items = msgspec.json.decode(data, type=tuple[int, int, int, int, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad from None
    version, start, end, ts, rid = items
    if version != 1 or not 0 <= start < end <= MAX_MS or not 0 <= ts <= MAX_MS:
        raise bad
    return Cursor(start, end, ts, request_id(rid))


def search(query: Mapping[str, str], *, now_ms: int) -> Search:
    """Parse GET /v4/events. Window: ``start`` (default 7 days before now) to ``end``
    (default now), both inclusive, as RFC 3339 or epoch ms. A ``pagination_key`` carries
    its first page's window, so a walk keeps it while new events arrive. Raises BadParameter.
    """
    after = decode_cursor(query["pagination_key"]) if "pagination_key" in query else None
    if after is not None:
        start, end = after.start_ms, after.end_ms
    else:
        end = instant_ms("end", query["end"]) + 1 if "end" in query else now_ms + 1
        start = (
            instant_ms("start", query["start"]) if "start" in query else now_ms - DEFAULT_WINDOW_MS
        )
        start = max(0, start)
        if start >= end:
            raise BadParameter("start", "must not be later than end")
    bot = query.get("bot")
    if bot is not None and bot not in _BOT:
        raise BadParameter("bot", "must be one of all, good, bad, none")
    nothing = False
    for name in NEVER_COLLECTED_BOOLEANS:
        if name in query:
            _bool(name, query[name])
            nothing = True
    nothing = nothing or any(name in query for name in NEVER_COLLECTED_VALUES)
    if query.get("source") not in (None, ""):
        nothing = True  # "edge" (Automation Intelligence) events: this pipeline has none
    optional: dict[str, Any] = {}
    if "visitor_id" in query:
        optional["visitor_id"] = visitor_id(query["visitor_id"])
    if "linked_id" in query:
        optional["linked_id"] = _text("linked_id", query["linked_id"])
    if "ip_address" in query:
        optional["ip_range"] = ip_range(query["ip_address"])
    if "asn" in query:
        optional["asn"] = _int("asn", query["asn"], 0, 2**32 - 1)
    for name in ("url", "origin"):
        if name in query:
            optional[name] = _text(name, query[name])
    for name in ("incognito", "suspect"):
        if name in query:
            optional[name] = _bool(name, query[name])
    if "total_hits" in query:
        optional["total_hits"] = _int("total_hits", query["total_hits"], 1, MAX_TOTAL_HITS)
    return Search(
        start_ms=start,
        end_ms=end,
        limit=_int("limit", query["limit"], 1, MAX_LIMIT) if "limit" in query else DEFAULT_LIMIT,
        reverse=_bool("reverse", query["reverse"]) if "reverse" in query else False,
        bots=_BOT[bot] if bot is not None else None,
        after=after,
        matches_nothing=nothing,
        **optional,
    )


class EventUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PATCH /v4/events/{event_id}'s body: only these three, each optional."""

    linked_id: str | msgspec.UnsetType = msgspec.UNSET
    tags: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    suspect: bool | msgspec.UnsetType = msgspec.UNSET


MAX_TAGS_BYTES: Final = 8 * 1024  # as a collected tag (schemas.raw_event.MAX_TAG_BYTES)


def event_update(body: bytes) -> EventUpdate:
    """Decode a PATCH body. Raises BadParameter when it is not such an object, or sets
    nothing, or its linked_id or tags are larger than collected ones may be."""
    try:
        update = msgspec.json.decode(body, type=EventUpdate)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise BadParameter("body", f"is not a valid event update: {exc}") from None
    if all(v is msgspec.UNSET for v in (update.linked_id, update.tags, update.suspect)):
        raise BadParameter("body", "must set at least one of linked_id, tags, suspect")
    if isinstance(update.linked_id, str) and len(update.linked_id) > 256:
        raise BadParameter("linked_id", "must be at most 256 characters")
    if isinstance(update.tags, dict) and len(msgspec.json.encode(update.tags)) > MAX_TAGS_BYTES:
        raise BadParameter("tags", f"must serialise to at most {MAX_TAGS_BYTES} bytes")
    return update


#: How long after its time an event may still be on its way through Kafka to ClickHouse.
IN_FLIGHT_MS: Final = 5 * 60_000


def may_be_in_flight(event_id: str, now_ms: int) -> bool:
    """Whether an event id this API does not hold may just not be stored yet: Fingerprint's
    ids start with their epoch ms (``1708102555327.NLOjmg``), so one from the last
    IN_FLIGHT_MS (or up to a day ahead, collectors' clocks drift) is 409, any other 404."""
    head, dot, _ = event_id.partition(".")
    if not dot or not head.isascii() or not head.isdigit() or len(head) > 19:
        return False
    return now_ms - IN_FLIGHT_MS <= int(head) <= now_ms + 86_400_000


def event_id(raw: str) -> str:
    """An event id (or a requestId) from the path. Raises BadParameter."""
    return request_id(raw)
