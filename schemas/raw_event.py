"""The raw visit event that edge collectors publish to Kafka (schema version 1).

:func:`decode_raw_visit` is the one door from bytes to :class:`RawVisit`: it validates every
rule of ``schemas/events/raw-visit.v1.schema.json`` plus the checks JSON Schema cannot express
(IP syntax, timestamp relative to *now*, tag size), and raises only :class:`InvalidEvent`.
"""

from __future__ import annotations

import socket
from typing import Annotated, Any, Final, Literal

import msgspec

SCHEMA_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 64 * 1024
MAX_TAG_BYTES: Final = 8 * 1024
MAX_TAG_DEPTH: Final = 10
MIN_TIMESTAMP_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_FUTURE_SKEW_MS: Final = 86_400_000  # collectors' clocks drift; a day ahead is a bug

#: Every ``InvalidEvent.reason`` this module can produce (stable: DLQ headers carry them).
REASONS: Final = frozenset(
    {
        "oversize",
        "not_utf8",
        "not_json",
        "not_object",
        "too_deep",
        "missing_field",
        "schema",
        "unsupported_schema_version",
        "invalid_ip",
        "timestamp_out_of_range",
        "tag_too_large",
    }
)

# msgspec applies `pattern` with re.search, where `$` also matches before a trailing newline;
# `\Z` does not. The JSON Schema spells the same rules with ECMA `$`.
_ID = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_WORKSPACE = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+\Z")
]
# Printable ASCII without space and '/': the id is a URL path segment in the API.
_VISITOR = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[!-.0-~]+\Z")]
_PROBABILITY = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class InvalidEvent(Exception):
    """A message that can never become a visit. ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Sdk(msgspec.Struct, frozen=True, omit_defaults=True):
    """``sdk``: the Fingerprint agent that collected the visit (v4's ``sdk``)."""

    platform: Literal["js", "android", "ios", "unknown"]
    version: Annotated[str, msgspec.Meta(max_length=64)]


class RawVisit(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """One raw visit (JSON names are camelCase). Unknown JSON fields are ignored.

    The fields after ``bot_probability`` are optional additions of the same schema version
    (issue 14, what v4's event carries): collectors that do not send them stay valid."""

    schema_version: int
    workspace_id: _WORKSPACE
    request_id: _ID
    visitor_id: _VISITOR
    timestamp: int
    url: Annotated[str, msgspec.Meta(max_length=4096)]
    ip: Annotated[str, msgspec.Meta(min_length=2, max_length=45)]
    user_agent: Annotated[str, msgspec.Meta(max_length=2048)]
    incognito: bool
    linked_id: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    tag: dict[str, Any] | None = None
    bot_probability: _PROBABILITY | None = None
    client_referrer: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    origin: Annotated[str, msgspec.Meta(max_length=4096)] | None = None
    environment_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    sdk: Sdk | None = None


_decoder: Final = msgspec.json.Decoder(RawVisit)


def _schema_version_of(text: str) -> object:
    """The ``schemaVersion`` of a JSON object that failed validation, or None."""
    try:
        obj = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    return obj.get("schemaVersion") if isinstance(obj, dict) else None


def _classify(err: msgspec.ValidationError, text: str) -> InvalidEvent:
    message = str(err)
    version = _schema_version_of(text)
    if version is not None and version != SCHEMA_VERSION:
        return InvalidEvent("unsupported_schema_version", f"schemaVersion {version!r} is not 1")
    if message.startswith("Object missing required field"):
        return InvalidEvent("missing_field", message)
    if " - at `$" not in message:  # the error is about the root value itself
        return InvalidEvent("not_object", message)
    return InvalidEvent("schema", message)


def _tag_depth(value: object) -> int:
    """Nesting depth of a decoded JSON value (scalars are 0), iterative: no recursion limit."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((child, depth) for child in node)
    return deepest


def decode_raw_visit(data: bytes, *, now_ms: int) -> RawVisit:
    """Decode and validate one raw visit message.

    Args:
        data: the Kafka message value, untrusted.
        now_ms: the receiver's clock (epoch ms); timestamps more than a day after it are refused.
    Returns:
        The validated :class:`RawVisit`.
    Raises:
        InvalidEvent: for every way ``data`` can be bad; nothing else, whatever the bytes.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidEvent("oversize", f"{len(data)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        # Explicit UTF-8 check: msgspec skips unknown fields without validating their bytes.
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("not_utf8", str(exc)) from exc
    try:
        raw = _decoder.decode(text)
    except msgspec.ValidationError as exc:
        raise _classify(exc, text) from exc
    except msgspec.DecodeError as exc:
        raise InvalidEvent("not_json", str(exc)) from exc
    except RecursionError as exc:
        raise InvalidEvent("too_deep", "JSON nested beyond the decoder's limit") from exc
    _check_semantics(raw, now_ms)
    return raw


def _is_ip_address(text: str) -> bool:
    """``ipaddress.ip_address(text)`` would accept ``text`` (scope ids aside: checked before).

    The C library's ``inet_pton`` is about 10x faster than ``ipaddress`` and agrees with it
    on every string but scope ids (a property test holds the two to that); this check ran
    once per event and was 8% of the worker's time (docs/benchmarks.md).
    """
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: NUL bytes, surrogates (not encodable)
        return False
    return True


def _check_semantics(raw: RawVisit, now_ms: int) -> None:
    if raw.schema_version != SCHEMA_VERSION:
        raise InvalidEvent("unsupported_schema_version", f"schemaVersion {raw.schema_version}")
    # A scope id ("fe80::1%eth0") parses but is never a visitor's public address.
    if "%" in raw.ip:
        raise InvalidEvent("invalid_ip", f"{raw.ip!r} has a scope id")
    if not _is_ip_address(raw.ip):
        raise InvalidEvent("invalid_ip", f"{raw.ip!r} is not an IPv4 or IPv6 address")
    if not MIN_TIMESTAMP_MS <= raw.timestamp <= now_ms + MAX_FUTURE_SKEW_MS:
        raise InvalidEvent(
            "timestamp_out_of_range",
            f"timestamp {raw.timestamp} not in [{MIN_TIMESTAMP_MS}, now + 1 day]",
        )
    if raw.tag is not None:
        depth = _tag_depth(raw.tag)
        if depth > MAX_TAG_DEPTH:
            raise InvalidEvent("too_deep", f"tag nested {depth} levels > {MAX_TAG_DEPTH}")
        size = len(msgspec.json.encode(raw.tag))
        if size > MAX_TAG_BYTES:
            raise InvalidEvent("tag_too_large", f"tag is {size} bytes > {MAX_TAG_BYTES}")
