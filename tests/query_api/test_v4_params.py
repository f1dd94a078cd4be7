"""GET /v4/events' parameters, the pagination key and PATCH bodies: pure parsing."""

from __future__ import annotations

import pytest

from query_api.params import BadParameter
from query_api.v4 import params
from tests.query_api import contract

NOW = 1_714_550_400_123


def test_defaults_are_the_last_seven_days_and_ten_events() -> None:
    search = params.search({}, now_ms=NOW)
    assert (search.start_ms, search.end_ms, search.limit, search.reverse) == (
        NOW - 7 * 86_400_000,
        NOW + 1,
        10,
        False,
    )


def test_start_and_end_take_rfc3339_and_epoch_ms() -> None:
    search = params.search({"start": "2024-05-01T00:00:00Z", "end": "1714550400000"}, now_ms=NOW)
    assert (search.start_ms, search.end_ms) == (1_714_521_600_000, 1_714_550_400_001)
    with pytest.raises(BadParameter):
        params.search({"start": "1714550400001", "end": "1714550400000"}, now_ms=NOW)


def test_ip_ranges_are_ipv6_key_ranges() -> None:
    assert params.ip_range("10.0.0.1") == ("00000000000000000000FFFF0A000001",) * 2
    assert params.ip_range("10.0.0.0/8") == (
        "00000000000000000000FFFF0A000000",
        "00000000000000000000FFFF0AFFFFFF",
    )
    assert params.ip_range("2001:db8::/32") == (
        "20010DB8000000000000000000000000",
        "20010DB8FFFFFFFFFFFFFFFFFFFFFFFF",
    )
    for bad in ("10.0.0.256", "10.0.0.0/33", "example.com", ""):
        with pytest.raises(BadParameter):
            params.ip_range(bad)


def test_the_pagination_key_carries_the_window_and_position() -> None:
    cursor = params.Cursor(1, 2_000, 1_500, "r/1")
    key = params.encode_cursor(cursor)
    assert params.decode_cursor(key) == cursor
    later = params.search({"pagination_key": key, "start": "0"}, now_ms=NOW)
    assert (later.start_ms, later.end_ms, later.after) == (1, 2_000, cursor)
    for bad in ("", "x", key[:-2], "W1sxXV0", "WzIsMSwyLDMsInIiXQ"):  # the last: version 2
        with pytest.raises(BadParameter):
            params.decode_cursor(bad)


def test_never_collected_signals_match_nothing_but_are_still_checked() -> None:
    assert params.search({"vpn": "true"}, now_ms=NOW).matches_nothing
    assert params.search({"proximity_id": "x"}, now_ms=NOW).matches_nothing
    assert not params.search({"incognito": "true"}, now_ms=NOW).matches_nothing
    with pytest.raises(BadParameter):
        params.search({"vpn": "sometimes"}, now_ms=NOW)


def test_the_served_document_lists_every_filter_we_read() -> None:
    (search,) = contract.DOC_V4["paths"]["/v4/events"].values()
    documented = {p["name"] for p in search["parameters"]}
    never = {*params.NEVER_COLLECTED_BOOLEANS, *params.NEVER_COLLECTED_VALUES, "source"}
    supported = {
        "limit", "pagination_key", "visitor_id", "linked_id", "ip_address", "asn", "url",
        "origin", "bot", "incognito", "suspect", "start", "end", "reverse", "total_hits",
    }  # fmt: skip
    assert documented == supported | never


def test_updates() -> None:
    update = params.event_update(b'{"linked_id": "x", "tags": {"a": 1}, "suspect": false}')
    assert (update.linked_id, update.tags, update.suspect) == ("x", {"a": 1}, False)
    for bad in (b"{}", b"[]", b'{"linked_id": 1}', b'{"tag": {}}', b'{"suspect": "yes"}', b"{"):
        with pytest.raises(BadParameter):
            params.event_update(bad)


def test_an_unknown_recent_event_id_may_be_in_flight() -> None:
    assert params.may_be_in_flight(f"{NOW - 1000}.AbC", NOW)
    assert not params.may_be_in_flight(f"{NOW - 600_000}.AbC", NOW)
    assert not params.may_be_in_flight("r1", NOW)


def test_the_worker_and_the_api_agree_on_ip_keys() -> None:
    from schemas.visit import ip_key

    for ip in ("10.0.0.1", "81.2.69.160", "2001:db8::1", "::ffff:10.0.0.1", "::1"):
        assert ip_key(ip) == params.ip_range(ip)[0] == params.ip_range(ip)[1], ip
    assert ip_key("::ffff:10.0.0.1") == ip_key("10.0.0.1")
    assert ip_key("not an ip") == "" and ip_key("") == ""
