"""A seeded corpus of hostile raw-visit messages, each with the one outcome it must have.

Every message either must reach the dead-letter topic with a given reason (one of
``schemas.raw_event.REASONS``) or must be stored and read back through the API exactly as sent
(``Expected``). Outcomes are written down here from the contract (docs/ingest.md and
``schemas/events/raw-visit.v1.schema.json``), not computed by the decoder under test. The same
seed always gives the same bytes; messages are told apart by their Kafka key (``h00042``),
which the DLQ keeps byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from tests.faults.events import NOW_MS, UA

SEED: Final = 20_240_501
TENANTS: Final = ("acme", "globex")
# Visitor ids the contract allows (printable ASCII, no space or '/') that look like trouble
# once they sit in a URL path or a SQL string.
VISITORS: Final = (
    "h-plain",
    "'OR'1'='1",
    "..%2F..%2Fetc%2Fpasswd",
    "%00%2e%2e",
    "<script>alert(1)<%2Fscript>",
    "a\\b?c#d;e&f=g",
    "L" * 64,
)
SQL: Final = (
    "'; DROP TABLE visits; --",
    "\\' OR 1=1",
    "' OR '1'='1",
    "1; SELECT * FROM system.users",
    "%(tenant)s{db}$1?",
    '") UNION ALL SELECT 1 --',
)
CONTROL: Final = (
    *("\x00", "a\x00b", "\x01\x02\x1f", "\x7f", "\r\n", "\t", "\x1b[31m", "\u2028"),
    *("\u202e", "\ufeff", "\x85", "\U0001f600"),
)
BAD_UTF8: Final = (
    b"\xff",
    b"\xfe",
    b"\xc3\x28",
    b"\xa0\xa1",
    b"\xe2\x28\xa1",
    b"\xf0\x28\x8c\xbc",
    b"\xc0\xaf",  # overlong '/'
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xe2\x82",  # truncated sequence
)
STRING_FIELDS: Final = ("workspaceId", "requestId", "visitorId", "url", "ip", "userAgent")
FREE_TEXT: Final = ("url", "userAgent", "linkedId")  # any string is valid data here
MAX_MESSAGE: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Expected:
    """A stored visit as the API must return it."""

    tenant: str
    visitor_id: str
    request_id: str
    timestamp: int
    url: str
    ip: str
    user_agent: str
    incognito: bool
    linked_id: str | None
    tag: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hostile:
    """One message: ``reason`` set means "dead letter for that reason", else ``visit``."""

    key: bytes
    value: bytes
    kind: str
    reason: str | None
    visit: Expected | None


Case = tuple[bytes, str | None, dict[str, Any] | None]  # value, reason, stored document


def _dumps(doc: dict[str, Any], rng: random.Random) -> bytes:
    # Both escaping styles: the decoder must read "\u00e9" and raw UTF-8 the same.
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()


def _stored(doc: dict[str, Any], rng: random.Random) -> Case:
    return _dumps(doc, rng), None, doc


def _dead(doc: dict[str, Any], reason: str, rng: random.Random) -> Case:
    return _dumps(doc, rng), reason, None


def _raw_case(raw: bytes, reason: str) -> Case:
    return raw, reason, None


# -- the cases: each takes a valid base document and the rng ------------------------------


def _not_utf8(doc: dict[str, Any], rng: random.Random) -> Case:
    where = rng.choice((*STRING_FIELDS, "linkedId", "tag", "extra", "key"))
    marker = "@@BAD@@"
    if where == "tag":
        doc["tag"] = {"k": marker}
    elif where == "extra":
        doc["comment"] = marker
    elif where == "key":
        doc[marker] = 1
    else:
        doc[where] = doc.get(where, "") + marker
    bad = rng.choice(BAD_UTF8)
    return json.dumps(doc).encode().replace(marker.encode(), bad), "not_utf8", None


def _whole_doc_encoding(doc: dict[str, Any], rng: random.Random) -> Case:
    doc["url"] = "https://shop.example/caf\u00e9"
    codec = rng.choice(("latin-1", "utf-16", "utf-32", "cp1252"))
    return json.dumps(doc, ensure_ascii=False).encode(codec), "not_utf8", None


def _size_limit(doc: dict[str, Any], rng: random.Random) -> Case:
    # The whole message at the 64 KiB limit is fine; one byte more is not. Padding goes into an
    # unknown field (ignored when stored) or, over the limit, into url.
    over = rng.random() < 0.5
    target = MAX_MESSAGE + 1 if over else MAX_MESSAGE
    doc["padding"] = ""
    doc["padding"] = "p" * (target - len(json.dumps(doc).encode()))
    raw = json.dumps(doc).encode()
    assert len(raw) == target
    return (raw, "oversize", None) if over else (raw, None, doc)


def _far_oversize(doc: dict[str, Any], rng: random.Random) -> Case:
    size = rng.choice((66_000, 80_000, 131_072)) if rng.random() > 0.01 else 1_500_000
    style = rng.choice(("url", "tag", "garbage", "bad_utf8", "deep"))
    if style == "url":
        doc["url"] = "u" * size
        return json.dumps(doc).encode(), "oversize", None
    if style == "tag":
        doc["tag"] = {f"k{n}": "v" * 90 for n in range(size // 100)}
        return json.dumps(doc).encode(), "oversize", None
    if style == "bad_utf8":  # size is checked before anything else
        return b"\xff" * size, "oversize", None
    if style == "deep":
        return b"[" * size, "oversize", None
    return bytes(rng.getrandbits(8) for _ in range(64)) * (size // 64 + 1), "oversize", None


def _field_limits(doc: dict[str, Any], rng: random.Random) -> Case:
    field, limit = rng.choice(
        (
            ("workspaceId", 64),
            ("requestId", 64),
            ("visitorId", 64),
            ("url", 4096),
            ("ip", 45),
            ("userAgent", 2048),
            ("linkedId", 256),
        )
    )
    char = rng.choice(("x", "\u00e9", "\U0001f600")) if field in FREE_TEXT else "x"
    over = rng.random() < 0.5
    if field == "ip":  # one past 45 characters is never an address
        doc["ip"] = "1" * (limit + 1) if over else "0000:0000:0000:0000:0000:ffff:255.255.255.255"
        return _dead(doc, "schema", rng) if over else _stored(doc, rng)
    if field in ("workspaceId", "visitorId"):
        if over:
            doc[field] = "x" * (limit + 1)
            return _dead(doc, "schema", rng)
        doc[field] = rng.choice(("", " ", "a/b", "tab\t", "\u00e9"))  # below or off-pattern
        return _dead(doc, "schema", rng)
    if field == "requestId":
        prefix = doc["requestId"] + "-"
        doc["requestId"] = prefix + "r" * (limit - len(prefix) + (1 if over else 0))
        return _dead(doc, "schema", rng) if over else _stored(doc, rng)
    doc[field] = char * (limit + (1 if over else 0))  # a limit counts characters, not bytes
    return _dead(doc, "schema", rng) if over else _stored(doc, rng)


def _tag_size(doc: dict[str, Any], rng: random.Random) -> Case:
    over = rng.random() < 0.5
    doc["tag"] = {"blob": ""}
    # The tag as the decoder re-encodes it (compact): {"blob":"..."} is 11 bytes plus the blob.
    doc["tag"]["blob"] = "b" * (8 * 1024 - 11 + (1 if over else 0))
    return _dead(doc, "tag_too_large", rng) if over else _stored(doc, rng)


def _nesting(doc: dict[str, Any], rng: random.Random) -> Case:
    style = rng.choice(("tag10", "tag11", "tag_deep", "doc_deep", "doc_array", "extra_deep"))
    if style in ("tag10", "tag11"):
        depth = 10 if style == "tag10" else 11
        node: Any = rng.choice((1, "leaf", None))
        for n in range(depth - 1):
            node = {"d": node} if n % 2 else [node]
        doc["tag"] = {"root": node}
        return _stored(doc, rng) if depth == 10 else _dead(doc, "too_deep", rng)
    depth = rng.randrange(2_000, 9_000)  # 6 bytes a level: deep, yet under the 64 KiB limit
    if style == "doc_array":  # the root is no object, however deep
        return b"[" * depth + b"]" * depth, "not_object", None
    body = json.dumps(doc)[:-1]
    nest = b'{"a":' * depth + b"1" + b"}" * depth
    if style == "tag_deep":
        return (body + ', "tag": ').encode() + nest + b"}", "too_deep", None
    if style == "extra_deep":  # unknown fields are skipped, but not blindly
        return (body + ', "x": ').encode() + b"[" * depth + b"]" * depth + b"}", "too_deep", None
    return b'{"a":' * depth + b"1" + b"}" * depth, "too_deep", None


WRONG: Final[dict[str, tuple[Any, ...]]] = {
    "str": (1, -1.5, True, None, [], {}, ["x"], {"s": "x"}),
    "int": ("1700000000000", 1.7e12, 1700000000000.0, True, None, [], {}),
    "bool": ("false", "true", 0, 1, None, [], {}),
    "nullable_str": (1, 2.5, False, [], {"a": 1}),
    "tag": ("{}", 1, 0.5, True, [], [{"a": 1}]),
    "probability": ("0.5", True, [], {}, 1.0001, -0.0001, 2, 1e308),
}
TYPES: Final = {
    "workspaceId": "str",
    "requestId": "str",
    "visitorId": "str",
    "url": "str",
    "ip": "str",
    "userAgent": "str",
    "timestamp": "int",
    "incognito": "bool",
    "linkedId": "nullable_str",
    "tag": "tag",
    "botProbability": "probability",
    "schemaVersion": "int",
}


def _wrong_type(doc: dict[str, Any], rng: random.Random) -> Case:
    field = rng.choice(tuple(TYPES))
    value = rng.choice(WRONG[TYPES[field]])
    doc[field] = value
    if field == "schemaVersion" and value is not None and value != 1:
        return _dead(doc, "unsupported_schema_version", rng)  # any other version is unsupported
    return _dead(doc, "schema", rng)


def _nulls_allowed(doc: dict[str, Any], rng: random.Random) -> Case:
    for field in ("linkedId", "tag", "botProbability"):
        if rng.random() < 0.7:
            doc[field] = None
    return _stored(doc, rng)


def _missing(doc: dict[str, Any], rng: random.Random) -> Case:
    required = [f for f in TYPES if f not in ("linkedId", "tag", "botProbability")]
    for field in rng.sample(required, rng.randrange(1, 4)):
        del doc[field]
    return _dead(doc, "missing_field", rng)


def _sql_stored(doc: dict[str, Any], rng: random.Random) -> Case:
    text = rng.choice(SQL)
    where = rng.choice(("url", "userAgent", "linkedId", "requestId", "tag_key", "tag_value"))
    if where == "requestId":
        doc["requestId"] = (doc["requestId"] + text)[:64]
    elif where == "tag_key":
        doc["tag"] = {text: text}
    elif where == "tag_value":
        doc["tag"] = {"q": text, "nested": {"q": [text, 1]}}
    else:
        doc[where] = text
    return _stored(doc, rng)


def _sql_refused(doc: dict[str, Any], rng: random.Random) -> Case:
    text = rng.choice([s for s in SQL if " " in s])
    where = rng.choice(("workspaceId", "visitorId", "ip"))
    doc[where] = text
    if where == "ip":
        return _dead(doc, "invalid_ip", rng)
    return _dead(doc, "schema", rng)  # every SQL sample holds a space or a '/'


def _control_stored(doc: dict[str, Any], rng: random.Random) -> Case:
    text = rng.choice(CONTROL)
    where = rng.choice(("url", "userAgent", "linkedId", "requestId", "tag"))
    if where == "requestId":
        doc["requestId"] = doc["requestId"] + text
    elif where == "tag":
        doc["tag"] = {text: text, "k": f"v{text}v"}
    else:
        doc[where] = f"{doc.get(where) or ''}{text}{text}"
    return _stored(doc, rng)


def _control_refused(doc: dict[str, Any], rng: random.Random) -> Case:
    text = rng.choice(CONTROL)
    where = rng.choice(("workspaceId", "visitorId", "ip"))
    doc[where] = doc[where] + text
    return _dead(doc, "invalid_ip" if where == "ip" else "schema", rng)


IPS_VALID: Final = (
    "::",
    "::1",
    "::ffff:1.2.3.4",
    "::ffff:81.2.69.160",
    "0.0.0.0",
    "255.255.255.255",
    "127.0.0.1",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "fe80::1",
    "ff02::1",
    "64:ff9b::1.2.3.4",
    "2001:0db8:0000:0000:0000:0000:0000:0001",
)
IPS_INVALID: Final = (
    "fe80::1%eth0",
    "::1%1",
    "fe80::1%25eth0",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    ":::",
    "12345::",
    "::g",
    "01.2.3.4",
    "1.2.3.04",
    "010.010.010.010",
    "::ffff:1.2.3.04",
    "256.0.0.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4 ",
    " 1.2.3.4",
    "[::1]",
    "1.2.3.4/24",
    "0x7f.0.0.1",
    "localhost",
    "\uff11.\uff12.\uff13.\uff14",
    "1.2.3.4:80",
)


def _ip(doc: dict[str, Any], rng: random.Random) -> Case:
    if rng.random() < 0.5:
        doc["ip"] = rng.choice(IPS_VALID)
        return _stored(doc, rng)
    doc["ip"] = rng.choice(IPS_INVALID)
    return _dead(doc, "invalid_ip", rng)


def _timestamp(doc: dict[str, Any], rng: random.Random) -> Case:
    choice = rng.randrange(4)
    if choice == 0:  # the contract's edges are valid
        doc["timestamp"] = rng.choice((946_684_800_000, NOW_MS + 23 * 3_600_000))
        return _stored(doc, rng)
    if choice == 1:
        doc["timestamp"] = rng.choice(
            (
                -1,
                0,
                946_684_799_999,
                1_558_456_813,  # seconds, not ms
                253_402_300_799_999,  # year 9999
                NOW_MS + 2 * 86_400_000,
                2**63,
                2**64 - 1,
                -(2**63),
                10**20,
            )
        )
        return _dead(doc, "timestamp_out_of_range", rng)
    doc["timestamp"] = rng.choice(WRONG["int"] + (1e3, -0.0, "2024-05-01T00:00:00Z"))
    return _dead(doc, "schema", rng)


def _duplicate_keys(doc: dict[str, Any], rng: random.Random) -> Case:
    # JSON leaves duplicates open; like JSON.parse and Python's json, the last one counts.
    field = rng.choice(("workspaceId", "url", "requestId", "linkedId", "tag", "incognito"))
    first: Any = {
        "workspaceId": TENANTS[1] if doc["workspaceId"] == TENANTS[0] else TENANTS[0],
        "url": "https://first.example/",
        "requestId": doc["requestId"] + "-first",
        "linkedId": "first",
        "tag": {"first": True},
        "incognito": not doc["incognito"],
    }[field]
    last = doc.get(field) if field != "tag" else {"last": [1, 2]}
    doc[field] = last
    rest = json.dumps(doc)[:-1]
    raw = f"{{{json.dumps(field)}: {json.dumps(first)}, {rest[1:]}}}".encode()
    return raw, None, doc


def _huge_numbers(doc: dict[str, Any], rng: random.Random) -> Case:
    choice = rng.randrange(6)
    body = json.dumps(doc)[:-1]
    if choice == 0:
        return f'{body}, "timestamp": 1{"0" * 100}}}'.encode(), "timestamp_out_of_range", None
    if choice == 1:
        return (
            f'{body}, "schemaVersion": 1{"0" * 30}}}'.encode(),
            "unsupported_schema_version",
            None,
        )
    if choice == 2:
        return f'{body}, "botProbability": 1{"0" * 400}}}'.encode(), "schema", None
    if choice == 3:  # digits beyond any integer type, in a field nobody reads
        return f'{body}, "extra": {"9" * 5000}}}'.encode(), None, doc
    if choice == 4:
        doc["tag"] = {
            "big": 10**40,
            "neg": -(10**30),
            "tiny": 5e-324,
            "max": 1.7976931348623157e308,
        }
        return _stored(doc, rng)
    return f'{body}, "tag": {{"n": 1e999}}}}'.encode(), "schema", None


def _unknown_fields(doc: dict[str, Any], rng: random.Random) -> Case:
    other = TENANTS[1] if doc["workspaceId"] == TENANTS[0] else TENANTS[0]
    sneaky = {
        "tenant": other,
        "workspace_id": other,
        "visitor_id": "someone-else",
        "__proto__": {"isAdmin": True},
        "constructor": {"prototype": {"polluted": 1}},
        "$where": "1 == 1",
        "": "",
        "schemaVersion2": 2,
        "extra": [[[[[]]]]] * 50,
    }
    for name in rng.sample(sorted(sneaky), rng.randrange(1, len(sneaky) + 1)):
        doc[name] = sneaky[name]
    return _stored(doc, rng)


def _not_json(doc: dict[str, Any], rng: random.Random) -> Case:
    body = json.dumps(doc)
    raw = rng.choice(
        (
            b"",
            b" ",
            b"\n",
            b"\x00",
            b"{",
            b"}",
            b'{"schemaVersion": 1,',
            body[:-1].encode(),
            (body + "x").encode(),
            (body + "\x00").encode(),
            ("\ufeff" + body).encode(),
            body.replace('"ip"', "'ip'").encode(),
            body.replace("}", ",}").encode(),
            body.replace("false", "False").replace("true", "True").encode(),
            (body[:-1] + ', "n": NaN}').encode(),
            (body[:-1] + ', "n": -Infinity}').encode(),
            (body[:-1] + ', "n": "\\ud800"}').encode(),  # lone surrogate escape
            (body[:-1] + ', "n": "a\x01b"}').encode(),  # raw control character in a string
            ("/* c */" + body).encode(),
            body.replace(":", "=").encode(),
        )
    )
    return raw, "not_json", None


def _not_object(doc: dict[str, Any], rng: random.Random) -> Case:
    raw = rng.choice((b"null", b"true", b"0", b"-1e999", b'"visit"', b"[]", b"[{}]"))
    return raw, "not_object", None


def _schema_version(doc: dict[str, Any], rng: random.Random) -> Case:
    doc["schemaVersion"] = rng.choice((0, 2, -1, "1", 1.5, "v1", [1], {"v": 1}, 99))
    return _dead(doc, "unsupported_schema_version", rng)


def _empty_object(doc: dict[str, Any], rng: random.Random) -> Case:
    return rng.choice((b"{}", b'{"schemaVersion": 1}', b'{"": ""}')), "missing_field", None


CASES: Final[tuple[tuple[str, Callable[[dict[str, Any], random.Random], Case]], ...]] = (
    ("not_utf8", _not_utf8),
    ("other_encoding", _whole_doc_encoding),
    ("size_limit", _size_limit),
    ("far_oversize", _far_oversize),
    ("field_limits", _field_limits),
    ("tag_size", _tag_size),
    ("nesting", _nesting),
    ("wrong_type", _wrong_type),
    ("nulls", _nulls_allowed),
    ("missing_field", _missing),
    ("sql_stored", _sql_stored),
    ("sql_refused", _sql_refused),
    ("control_stored", _control_stored),
    ("control_refused", _control_refused),
    ("ip", _ip),
    ("timestamp", _timestamp),
    ("duplicate_keys", _duplicate_keys),
    ("huge_numbers", _huge_numbers),
    ("unknown_fields", _unknown_fields),
    ("not_json", _not_json),
    ("not_object", _not_object),
    ("schema_version", _schema_version),
    ("empty_object", _empty_object),
)


def _base(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "workspaceId": TENANTS[i % len(TENANTS)],
        "requestId": f"h-{i:05d}",
        "visitorId": VISITORS[rng.randrange(len(VISITORS))],
        "timestamp": NOW_MS - 60_000 - i * 7,
        "url": f"https://shop.example/h/{i}",
        "ip": "81.2.69.160",
        "userAgent": UA,
        "incognito": rng.random() < 0.5,
        "linkedId": f"link-{i % 13}",
    }


def _expected(doc: dict[str, Any]) -> Expected:
    return Expected(
        tenant=doc["workspaceId"],
        visitor_id=doc["visitorId"],
        request_id=doc["requestId"],
        timestamp=doc["timestamp"],
        url=doc["url"],
        ip=doc["ip"],
        user_agent=doc["userAgent"],
        incognito=doc["incognito"],
        linked_id=doc.get("linkedId"),
        tag=doc.get("tag") or {},
    )


def corpus(count: int, seed: int = SEED) -> Iterator[Hostile]:
    """``count`` hostile messages, every case in turn; the same ``seed`` gives the same bytes."""
    rng = random.Random(seed)
    for i in range(count):
        kind, make = CASES[i % len(CASES)]
        value, reason, doc = make(_base(i, rng), rng)
        visit = _expected(doc) if doc is not None else None
        yield Hostile(f"h{i:05d}".encode(), value, kind, reason, visit)
