"""visit_pages.body (040_visit_pages.sql, written by ClickHouse's view) decodes to exactly the
typed visits columns, on 18.16 and on the current engine, for hostile text too."""

from __future__ import annotations

import struct
from typing import Any

import msgspec
import pytest

from query_api import page_rows
from schemas.clickhouse.statements import Statement
from schemas.visit import BrowserDetails, City, Continent, Country, IpLocation, Subdivision
from tests.query_api import visits
from tests.query_api.engines import Engine


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


HOSTILE = "tab\there\\back\\\\slash \\N \\t \x1f unit, nl\nend 'q' \"dq\" é ü 日本 \x00"

_HOSTILE_BROWSER = BrowserDetails(
    browser_name="Chrome\t", browser_major_version="\\N", browser_full_version="",
    os="\x1fos", os_version="1\\2", device="Other", user_agent=HOSTILE, bot_probability=0.87,
)  # fmt: skip


def _cases() -> list[tuple[str, dict[str, object]]]:
    located = IpLocation(
        accuracy_radius=0, latitude=51.514199999999995, longitude=-0.0931,
        postal_code="\\N", timezone="Europe/London", city=City(name=HOSTILE),
        continent=Continent(code="EU", name="Europe"), country=Country(code="GB", name="UK\t"),
        subdivisions=(Subdivision(iso_code="", name=""), Subdivision(iso_code="\x1f", name="a\\u")),
    )  # fmt: skip
    return [
        ("plain", {}),
        ("hostile", {
            "url": HOSTILE, "ip": "::1", "linked_id": HOSTILE, "tag": {"k": HOSTILE},
            "browser_details": _HOSTILE_BROWSER, "ip_location": located,
            "client_referrer": "", "environment_id": "\\", "asn": 4294967295,
            "asn_name": "\t", "asn_network": "\\t", "bot": "bad",
        }),
        ("nulls", {"linked_id": None, "client_referrer": None, "ip_location": IpLocation()}),
        ("one empty subdivision", {"ip_location": IpLocation(
            latitude=1e-7, subdivisions=(Subdivision(iso_code="", name=""),))}),
    ]  # fmt: skip


@pytest.mark.parametrize(("name", "changes"), _cases(), ids=[c[0] for c in _cases()])
def test_the_body_decodes_to_the_typed_columns(
    engine: Engine, name: str, changes: dict[str, object]
) -> None:
    stored = msgspec.structs.replace(visits.visit("acme", "V", 1_700_000_000_123, "r1"), **changes)
    engine.insert([stored])
    db = engine.database
    typed = engine.run(
        Statement(f"SELECT {', '.join(page_rows.BODY_COLUMNS)} FROM {db}.visits", {})
    )
    bodies = engine.run(
        Statement(
            f"SELECT tenant, visitor_id, timestamp_ms, request_id, body FROM {db}.visit_pages", {}
        )
    )
    assert [tuple(b[:4]) for b in bodies] == [("acme", "V", 1_700_000_000_123, "r1")]
    decoded = page_rows.decode(str(bodies[0][4]))
    expected: list[Any] = [list(v) if isinstance(v, tuple) else v for v in typed[0]]
    if engine.name == "chdb":
        # chdb's harness reads Float32 as its shortest text (0.87), the driver as its exact
        # value (0.8700000047683716, which the body holds): compare them as Float32.
        i = page_rows.BODY_COLUMNS.index("bot_probability")
        expected[i], decoded[i] = (_float32(float(v)) for v in (expected[i], decoded[i]))
    assert expected == decoded
    # Same types too, as clickhouse-driver returns them (chdb's harness reads JSON text back,
    # where a Float32 0 comes as the integer 0: there the values alone are compared).
    if engine.name == "server":
        assert [type(v) for v in typed[0]] == [type(v) for v in decoded]


def test_a_body_of_another_shape_is_refused() -> None:
    with pytest.raises(page_rows.DamagedBody):
        page_rows.decode("a\tb")
    fields = ["x"] * len(page_rows.BODY_FIELDS)
    with pytest.raises(page_rows.DamagedBody):
        page_rows.decode("\t".join(fields))  # "x" is no incognito flag


def test_escapes_are_undone_once() -> None:
    assert page_rows._text("a\\\\tb\\tc\\u") == "a\\tb\tc\x1f"
    assert page_rows._nullable_text("\\\\N") == "\\N"
    assert page_rows._nullable_text("\\N") is None
    assert page_rows._array("") == [] and page_rows._array("\x1f") == [""]
