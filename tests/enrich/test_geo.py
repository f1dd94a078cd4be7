"""GeoIpReader against MaxMind's official test databases (exact values for known addresses)."""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrich.config import default_geoip_database
from enrich.errors import GeoIpDatabaseError
from enrich.geo import GeoIpReader, location_from_record
from schemas.visit import City, Continent, Country, IpLocation, Subdivision

DATA = Path(__file__).parent / "data"
CITY_TEST = DATA / "GeoIP2-City-Test.mmdb"


@pytest.fixture
def reader() -> Any:
    with GeoIpReader(str(CITY_TEST), cache_size=64) as geo:
        yield geo


def test_ipv4_exact_values(reader: GeoIpReader) -> None:
    assert reader.location("81.2.69.160") == IpLocation(
        accuracy_radius=100,
        latitude=51.5142,
        longitude=-0.0931,
        timezone="Europe/London",
        city=City(name="London"),
        continent=Continent(code="EU", name="Europe"),
        country=Country(code="GB", name="United Kingdom"),
        subdivisions=(Subdivision(iso_code="ENG", name="England"),),
    )


def test_ipv4_with_postal_code_renders_like_the_seed(reader: GeoIpReader) -> None:
    rendered = msgspec.json.decode(msgspec.json.encode(reader.location("216.160.83.56")))
    assert rendered == {
        "accuracyRadius": 22,
        "latitude": 47.2513,
        "longitude": -122.3149,
        "postalCode": "98354",
        "timezone": "America/Los_Angeles",
        "city": {"name": "Milton"},
        "continent": {"code": "NA", "name": "North America"},
        "country": {"code": "US", "name": "United States"},
        "subdivisions": [{"isoCode": "WA", "name": "Washington"}],
    }
    assert isinstance(rendered["accuracyRadius"], int)


def test_ipv6_without_city_omits_absent_fields(reader: GeoIpReader) -> None:
    rendered = msgspec.to_builtins(reader.location("2001:218::1"))
    assert rendered == {
        "accuracyRadius": 100,
        "latitude": 35.68536,
        "longitude": 139.75309,
        "timezone": "Asia/Tokyo",
        "continent": {"code": "AS", "name": "Asia"},
        "country": {"code": "JP", "name": "Japan"},
    }


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "192.168.1.1", "127.0.0.1", "::1", "fe80::1", "1.1.1.1", "2001:db8::1"]
)
def test_private_reserved_and_unknown_addresses_have_no_location(
    reader: GeoIpReader, ip: str
) -> None:
    assert reader.location(ip) is None


@pytest.mark.parametrize("ip", ["", "not-an-ip", "999.1.1.1", "1.2.3.4%eth0", "\x00"])
def test_malformed_addresses_have_no_location(reader: GeoIpReader, ip: str) -> None:
    assert reader.location(ip) is None


def _expected_from_json(record: dict[str, Any]) -> dict[str, Any]:
    """Independent mapping of the test JSON to the API shape (what the seed shows)."""
    out: dict[str, Any] = {}
    loc = record.get("location", {})
    for src, dst in [
        ("accuracy_radius", "accuracyRadius"),
        ("latitude", "latitude"),
        ("longitude", "longitude"),
        ("time_zone", "timezone"),
    ]:
        if src in loc:
            out[dst] = loc[src]
    if "code" in record.get("postal", {}):
        out["postalCode"] = record["postal"]["code"]
    if "en" in record.get("city", {}).get("names", {}):
        out["city"] = {"name": record["city"]["names"]["en"]}
    if "continent" in record:
        out["continent"] = {
            "code": record["continent"]["code"],
            "name": record["continent"]["names"]["en"],
        }
    if "country" in record:
        out["country"] = {
            "code": record["country"]["iso_code"],
            "name": record["country"]["names"]["en"],
        }
    subs = [
        {"isoCode": s["iso_code"], "name": s["names"]["en"]} for s in record.get("subdivisions", [])
    ]
    if subs:
        out["subdivisions"] = subs
    return out


def _json_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for entry in json.loads((DATA / "GeoIP2-City-Test.json").read_text(encoding="utf-8")):
        ((network, record),) = entry.items()
        net = ipaddress.ip_network(network)
        cases.append((str(net.network_address), record))
        cases.append((str(net.broadcast_address), record))
    return cases


def test_every_network_of_the_test_json_matches(reader: GeoIpReader) -> None:
    cases = _json_cases()
    assert len(cases) > 400
    for ip, record in cases:
        got = reader.location(ip)
        expected = _expected_from_json(record)
        assert (msgspec.json.decode(msgspec.json.encode(got)) if got else {}) == expected, ip


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.mmdb", "file not found"),
        ("GeoIP2-City-Test-Invalid-Node-Count.mmdb", "cannot open"),
        ("GeoIP2-City-Test-Broken-Double-Format.mmdb", "corrupt"),
        ("GeoLite2-ASN-Test.mmdb", "not a City database"),
        ("LICENSE-MIT", "cannot open"),
    ],
)
def test_bad_database_fails_at_start_up_naming_the_path(name: str, reason: str) -> None:
    path = str(DATA / name)
    with pytest.raises(GeoIpDatabaseError) as info:
        GeoIpReader(path)
    assert info.value.path == path
    assert info.value.reason.startswith(reason)
    assert path in str(info.value)


def test_cache_is_bounded(reader: GeoIpReader) -> None:
    for i in range(200):
        reader.location(f"81.2.69.{i}")
    assert reader._cached.cache_info().currsize == 64  # type: ignore[attr-defined]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reload_swaps_on_replacement_and_refuses_a_corrupt_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live = tmp_path / "City.mmdb"
    shutil.copyfile(CITY_TEST, live)
    clock = FakeClock()
    with GeoIpReader(str(live), reload_check_seconds=10, clock=clock) as geo:
        assert geo.location("81.2.69.160") is not None
        # geoipupdate writes a temp file then renames it over the old one.
        broken = tmp_path / "broken.tmp"
        shutil.copyfile(DATA / "GeoIP2-City-Test-Broken-Double-Format.mmdb", broken)
        broken.replace(live)
        clock.now = 5  # before the check interval: not even looked at
        assert geo.location("81.2.69.160") is not None
        clock.now = 11
        with caplog.at_level(logging.ERROR, logger="enrich.geo"):
            assert geo.location("81.2.69.160") is not None  # old database keeps serving
        assert "keeping current" in caplog.text
        assert geo.maybe_reload() is False  # same bad file is not retried
        assert geo.location("61.127.217.15") is None  # not in the test database
        # A good database with different content (the packaged GeoLite2-City).
        fresh = tmp_path / "fresh.tmp"
        shutil.copyfile(default_geoip_database(), fresh)
        fresh.replace(live)
        clock.now = 30
        located = geo.location("61.127.217.15")  # the cache was cleared by the swap
        assert located is not None and located.country is not None
        assert geo._cached.cache_info().currsize == 1  # type: ignore[attr-defined]


def test_reload_when_file_disappears_keeps_serving(tmp_path: Path) -> None:
    live = tmp_path / "City.mmdb"
    shutil.copyfile(CITY_TEST, live)
    clock = FakeClock()
    with GeoIpReader(str(live), reload_check_seconds=0, clock=clock) as geo:
        live.unlink()
        assert geo.maybe_reload() is False
        assert geo.location("81.2.69.160") is not None


@given(st.one_of(st.text(max_size=60), st.ip_addresses().map(str)))
def test_location_never_raises(ip: str) -> None:
    with GeoIpReader(str(CITY_TEST), cache_size=8) as geo:
        result = geo.location(ip)
    assert result is None or isinstance(result, IpLocation)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["en", "names", "code", "iso_code", "city", "location", "x"]), children
        )
    ),
    max_leaves=20,
)


@given(_json_values)
def test_location_from_arbitrary_record_never_raises(record: Any) -> None:
    result = location_from_record(record)
    assert result is None or isinstance(result, IpLocation)
