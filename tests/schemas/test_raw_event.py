"""Raw event contract: examples validate with both the msgspec model and the JSON Schema."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.raw_event import REASONS, InvalidEvent, RawVisit, decode_raw_visit

SCHEMAS = Path(__file__).parents[2] / "schemas"
EXAMPLES = SCHEMAS / "examples"
NOW_MS = 1_700_000_100_000
VALID = sorted(EXAMPLES.glob("*.json"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.json"))
SCHEMA = json.loads((SCHEMAS / "events/raw-visit.v1.schema.json").read_text(encoding="utf-8"))


def test_there_are_examples_for_every_reason() -> None:
    assert {p.stem for p in INVALID} == REASONS
    assert {"seed-visit", "minimal", "tag-linked-bot", "ipv6"} <= {p.stem for p in VALID}


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_example_decodes_and_validates(path: Path) -> None:
    data = path.read_bytes()
    raw = decode_raw_visit(data, now_ms=NOW_MS)
    assert isinstance(raw, RawVisit)
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(json.loads(data))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_example_fails_with_its_reason(path: Path) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_raw_visit(path.read_bytes(), now_ms=NOW_MS)
    assert info.value.reason == path.stem
    assert info.value.detail


def test_seed_example_carries_the_seeds_values() -> None:
    raw = decode_raw_visit((EXAMPLES / "seed-visit.json").read_bytes(), now_ms=NOW_MS)
    assert (raw.visitor_id, raw.ip, raw.linked_id, raw.incognito, raw.timestamp) == (
        "Ibk1527CUFmcnjLwIs4A9",
        "61.127.217.15",
        "somelinkedId",
        True,
        1_558_456_813_000,
    )


def _minimal() -> dict[str, object]:
    return dict(json.loads((EXAMPLES / "minimal.json").read_bytes()))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"visitorId": "a/b"}, "schema"),
        ({"visitorId": "a b"}, "schema"),
        ({"visitorId": ""}, "schema"),
        ({"workspaceId": "acme\n"}, "schema"),
        ({"workspaceId": "x" * 65}, "schema"),
        ({"requestId": "r" * 65}, "schema"),
        ({"linkedId": "l" * 257}, "schema"),
        ({"botProbability": 1.5}, "schema"),
        ({"tag": "text"}, "schema"),
        ({"timestamp": 1.5}, "schema"),
        ({"timestamp": NOW_MS + 86_400_001}, "timestamp_out_of_range"),
        ({"timestamp": 10**30}, "timestamp_out_of_range"),
        ({"ip": "fe80::1%eth0"}, "invalid_ip"),
        ({"ip": "1.2.3"}, "invalid_ip"),
        ({"schemaVersion": 2, "ip": None}, "unsupported_schema_version"),
    ],
)
def test_rules(change: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_raw_visit(json.dumps({**_minimal(), **change}).encode(), now_ms=NOW_MS)
    assert info.value.reason == reason


def test_limits_that_pass() -> None:
    ok = {**_minimal(), "timestamp": NOW_MS + 86_400_000, "ip": "::ffff:1.2.3.4", "extra": [1]}
    assert decode_raw_visit(json.dumps(ok).encode(), now_ms=NOW_MS).timestamp == ok["timestamp"]


def test_decoder_depth_bomb_is_too_deep() -> None:
    bomb = b'{"tag":{"a":' + b"[" * 30000 + b"]" * 30000 + b"}}"
    with pytest.raises(InvalidEvent) as info:
        decode_raw_visit(bomb, now_ms=NOW_MS)
    assert info.value.reason == "too_deep"


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_never_raises_anything_else_on_bytes(data: bytes) -> None:
    try:
        decode_raw_visit(data, now_ms=NOW_MS)
    except InvalidEvent as exc:
        assert exc.reason in REASONS


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=15,
)


@settings(max_examples=500)
@given(st.dictionaries(st.sampled_from(sorted(_minimal())) | st.text(max_size=5), _values))
def test_never_raises_anything_else_on_json_objects(mutation: dict[str, object]) -> None:
    try:
        decode_raw_visit(msgspec.json.encode({**_minimal(), **mutation}), now_ms=NOW_MS)
    except InvalidEvent as exc:
        assert exc.reason in REASONS


def _ipaddress_accepts(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Strings near the IP grammar, where parsers disagree if they ever do: leading zeros, too many
# or too few groups, `::` twice, embedded IPv4 in IPv6, non-ASCII digits, NULs. (Lone
# surrogates never get this far: msgspec refuses them as malformed JSON.)
_octet = st.sampled_from(
    ["0", "00", "01", "1", "9", "255", "256", "999", "1a", "0x1", " 1", "", "\u0661"]
)
_group = st.sampled_from(
    ["", "0", "1", "fFfF", "0000", "00000", "12345", "g", "1.2.3.4", "01.2.3.4"]
)
_ip_like = (
    st.lists(_octet, min_size=3, max_size=5).map(".".join)
    | st.lists(_group, min_size=1, max_size=10).map(":".join)
    | st.text(alphabet="0123456789abcdefABCDEF:. x\u0661\x00-", max_size=45)
)


@settings(max_examples=3000)
@given(_ip_like.filter(lambda s: 2 <= len(s) <= 45 and "%" not in s))
def test_ip_check_agrees_with_ipaddress(ip: str) -> None:
    """The fast check (inet_pton) refuses exactly what ``ipaddress.ip_address`` refuses."""
    event = _minimal() | {"ip": ip}
    try:
        decode_raw_visit(msgspec.json.encode(event), now_ms=NOW_MS)
        accepted = True
    except InvalidEvent as exc:
        assert exc.reason == "invalid_ip", exc
        accepted = False
    assert accepted == _ipaddress_accepts(ip)
