"""Rendering rows: Float32 probabilities, omitted location keys, seen-at text, paging keys."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from query_api import render
from query_api.queries import SUMMARY_COLUMNS, VISIT_COLUMNS

SUMMARY = {
    "first_seen": 1_000,
    "last_seen": 5_000,
    "visit_count": 3,
    "global_first_seen": 500,
    "global_last_seen": 5_000,
    "erased_at": 0,
    "key_found": 1,
}


def make_row(**visit: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = dict.fromkeys(VISIT_COLUMNS)
    base.update(
        request_id="r1",
        timestamp_ms=5_000,
        incognito=1,
        tag="{}",
        bot_probability=0.0,
        has_location=0,
        subdivision_iso_codes=[],
        subdivision_names=[],
    )
    base.update(visit)
    return tuple(SUMMARY[c] for c in SUMMARY_COLUMNS) + tuple(base[c] for c in VISIT_COLUMNS)


def test_float32_probability_renders_as_written() -> None:
    stored = struct.unpack("f", struct.pack("f", 0.87))[0]
    assert stored != 0.87
    about = render.summary(make_row())
    assert render.visit(make_row(bot_probability=stored), about)["browserDetails"][
        "botProbability"
    ] == pytest.approx(0.87, abs=0)
    for whole in (0.0, 1.0):
        value = render.visit(make_row(bot_probability=whole), about)["browserDetails"]
        assert value["botProbability"] == int(whole)
        assert isinstance(value["botProbability"], int)


def test_location_keys_are_omitted_when_null_and_absent_without_location() -> None:
    about = render.summary(make_row())
    assert "ipLocation" not in render.visit(make_row(), about)
    loc = render.visit(
        make_row(has_location=1, country_code="GB", country_name="United Kingdom", latitude=51.5),
        about,
    )["ipLocation"]
    assert loc == {"latitude": 51.5, "country": {"code": "GB", "name": "United Kingdom"}}


def test_seen_at_shows_milliseconds_only_when_present() -> None:
    assert render.seen_at(1655373953000) == "2022-06-16T10:05:53Z"
    assert render.seen_at(1654772580912) == "2022-06-09T11:03:00.912Z"
    assert render.seen_at(None) is None


def test_visitor_found_is_false_only_for_the_first_visit() -> None:
    about = render.summary(make_row())
    assert render.visit(make_row(timestamp_ms=1_000), about)["visitorFound"] is False
    assert render.visit(make_row(timestamp_ms=1_001), about)["visitorFound"] is True


def test_erased_history_makes_the_visitor_unknown() -> None:
    row = list(make_row())
    row[SUMMARY_COLUMNS.index("erased_at")] = 5_000
    assert render.summary(row).known is False
    row[SUMMARY_COLUMNS.index("erased_at")] = 2_000
    about = render.summary(row)
    assert about.known and about.first_seen is None  # pre-erasure first visit is not shown


def test_page_keys_appear_only_when_a_further_row_came() -> None:
    rows = [make_row(request_id=f"r{i}", timestamp_ms=5_000 - i) for i in range(3)]
    about = render.summary(rows[0])
    full = render.page("V", rows, 3, about)
    assert "paginationKey" not in full and len(full["visits"]) == 3
    cut = render.page("V", rows, 2, about)
    assert [v["requestId"] for v in cut["visits"]] == ["r0", "r1"]
    assert (cut["paginationKey"], cut["lastTimestamp"]) == ("r1", 4_999)


def test_non_object_tag_is_wrapped() -> None:
    about = render.summary(make_row())
    assert render.visit(make_row(tag='"vip"'), about)["tag"] == {"value": "vip"}
