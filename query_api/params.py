"""Query-string and path parsing for the API: pure, no I/O.

Every rejection is a :class:`BadParameter` naming the parameter and saying why, which the
routes turn into a 400. Parameters this API does not know are ignored: the official SDKs add
their own (``ii`` integration info, for one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

DAY_MS: Final = 86_400_000
DEFAULT_WINDOW_MS: Final = 10 * DAY_MS  # the seed: "visits are returned from last 10 days"
#: Added to the default window on a page that continues a walk (paginationKey or before).
PAGING_GRACE_MS: Final = DAY_MS
MAX_MS: Final = 2**63 - 1  # timestamp_ms is UInt64; stay inside what every client can send
MAX_TEXT: Final = 256  # request ids, linked ids and pagination keys are short
# Printable ASCII without space and '/', as the raw-event contract allows visitor ids.
_VISITOR_ID: Final = re.compile(r"^[!-.0-~]{1,64}\Z")
_DIGITS: Final = re.compile(r"^[0-9]{1,19}\Z")


class BadParameter(ValueError):
    """A parameter the API cannot use: ``name`` and ``reason`` go into the 400 body."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass(frozen=True, slots=True)
class VisitQuery:
    """One page request of GET /visitors/{visitor_id}; times are epoch ms, ``to`` exclusive."""

    visitor_id: str
    from_ms: int
    to_ms: int
    limit: int
    before_ms: int | None = None
    pagination_key: str | None = None
    request_id: str | None = None
    linked_id: str | None = None


def event_query(visitor: str, timestamp_ms: int, request: str) -> VisitQuery:
    """The page query GET /events/{request_id} runs once the request index located the visit:
    that visitor, that requestId, from the located copy's millisecond on.

    A requestId stored twice with different timestamps has a row per copy in the request
    index until a merge keeps one of them, not necessarily the newest. Any copy is at or
    before the newest, so this window always holds the newest, which the page shows (newest
    first, one row per requestId): the copy GET /visitors shows too.
    """
    return VisitQuery(visitor, timestamp_ms, MAX_MS, 1, request_id=request)


def visitor_id(raw: str) -> str:
    """Validate a visitor id from the path. Raises BadParameter."""
    if not _VISITOR_ID.match(raw):
        raise BadParameter(
            "visitor_id", "must be 1 to 64 printable ASCII characters without space or '/'"
        )
    return raw


def request_id(raw: str) -> str:
    """Validate a request id from the path. Raises BadParameter."""
    return _text("request_id", raw)


def _text(name: str, raw: str) -> str:
    if not raw or len(raw) > MAX_TEXT or not raw.isprintable():
        raise BadParameter(name, f"must be 1 to {MAX_TEXT} printable characters")
    return raw


def epoch_ms(name: str, raw: str) -> int:
    """Epoch milliseconds as digits. Raises BadParameter."""
    if not _DIGITS.match(raw.strip()) or int(raw) > MAX_MS:
        raise BadParameter(name, "must be a non-negative integer of epoch milliseconds")
    return int(raw)


def instant_ms(name: str, raw: str) -> int:
    """Epoch ms digits or an ISO 8601 date-time (no offset means UTC). Raises BadParameter."""
    text = raw.strip()
    if _DIGITS.match(text):
        return epoch_ms(name, text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(
            name, "must be an ISO 8601 date-time (2024-05-01T12:00:00Z) or epoch milliseconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        value = int(parsed.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        raise BadParameter(name, "is out of range") from None
    if not 0 <= value <= MAX_MS:
        raise BadParameter(name, "must not be before 1970-01-01T00:00:00Z")
    return value


def _limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not _DIGITS.match(raw.strip()) or not 1 <= int(raw) <= maximum:
        raise BadParameter("limit", f"must be an integer from 1 to {maximum}")
    return int(raw)


def visit_query(
    visitor: str,
    query: Mapping[str, str],
    *,
    now_ms: int,
    default_limit: int,
    max_limit: int,
) -> VisitQuery:
    """Parse GET /visitors/{visitor_id}. ``query`` maps names to values (unknown ones ignored).

    Window: ``from`` (default ``to`` - 10 days, or now - 10 days) inclusive to ``to`` (default:
    no upper bound) exclusive. A page that continues a walk (``paginationKey`` or ``before``)
    without ``from`` reaches one day further back (PAGING_GRACE_MS). Raises BadParameter for
    the first unusable parameter.
    """
    vid = visitor_id(visitor)
    to_ms = instant_ms("to", query["to"]) if "to" in query else MAX_MS
    if "from" in query:
        from_ms = instant_ms("from", query["from"])
    else:
        # "Now" moves between the pages of a walk, and a stateless key (v3's paginationKey
        # is the last requestId) cannot carry the first page's window. Without the grace, a
        # later page would recompute the window and drop the visits the first page's window
        # held at its old edge. With it, a walk that takes less than a day never drops one;
        # it may return up to a day of visits older than the first page's window.
        continuing = "paginationKey" in query or "before" in query
        window = DEFAULT_WINDOW_MS + (PAGING_GRACE_MS if continuing else 0)
        from_ms = max(0, min(now_ms, to_ms) - window)
    if from_ms >= to_ms:
        raise BadParameter("from", "must be earlier than to")
    return VisitQuery(
        visitor_id=vid,
        from_ms=from_ms,
        to_ms=to_ms,
        limit=_limit(query.get("limit"), default_limit, max_limit),
        before_ms=epoch_ms("before", query["before"]) if "before" in query else None,
        pagination_key=(
            _text("paginationKey", query["paginationKey"]) if "paginationKey" in query else None
        ),
        request_id=_text("request_id", query["request_id"]) if "request_id" in query else None,
        linked_id=_text("linked_id", query["linked_id"]) if "linked_id" in query else None,
    )
