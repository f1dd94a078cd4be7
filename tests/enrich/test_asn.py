"""ASN lookups against MaxMind's GeoLite2-ASN test database (exact values for known
addresses), and the same reload-on-replacement as the City database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from enrich.asn import asn_from_record, open_asn_database
from enrich.errors import GeoIpDatabaseError
from tests.enrich.test_geo import FakeClock

DATA = Path(__file__).parent / "data"
ASN_TEST = DATA / "GeoLite2-ASN-Test.mmdb"  # MaxMind's test database (= shared/geoip's copy)


def test_known_addresses() -> None:
    with open_asn_database(str(ASN_TEST)) as asn:
        assert asn.lookup("1.128.0.1") == (1221, "Telstra Pty Ltd", "1.128.0.0/11")
        assert asn.lookup("12.81.92.7") == (7018, "AT&T Services", "12.81.92.0/22")
        assert asn.lookup("2600:6000::1") == (237, "Merit Network Inc.", "2600:6000::/20")
        assert asn.lookup("10.0.0.1") is None  # private: nothing invented
        assert asn.lookup("not an ip") is None
        assert asn.build_epoch == 1_770_245_369  # the file's metadata


def test_only_an_asn_database_is_accepted() -> None:
    with pytest.raises(GeoIpDatabaseError, match="not a ASN database"):
        open_asn_database(str(DATA / "GeoIP2-City-Test.mmdb"))


def test_records_without_a_number_are_none() -> None:
    assert asn_from_record({"autonomous_system_organization": "x"}, 8, "10.0.0.1") is None
    assert asn_from_record(None, 8, "10.0.0.1") is None
    assert asn_from_record({"autonomous_system_number": 7}, 16, "10.1.2.3") == (
        7,
        "",
        "10.1.0.0/16",
    )


def test_a_replaced_file_is_reloaded(tmp_path: Path) -> None:
    live = tmp_path / "ASN.mmdb"
    shutil.copyfile(ASN_TEST, live)
    clock = FakeClock()
    with open_asn_database(str(live), reload_check_seconds=10, clock=clock) as asn:
        assert asn.lookup("1.128.0.1") is not None
        # A City database put in its place is refused; the ASN one keeps serving.
        wrong = tmp_path / "wrong.tmp"
        shutil.copyfile(DATA / "GeoIP2-City-Test.mmdb", wrong)
        wrong.replace(live)
        clock.now = 11
        assert asn.maybe_reload() is False
        assert asn.lookup("1.128.0.1") == (1221, "Telstra Pty Ltd", "1.128.0.0/11")
        fresh = tmp_path / "fresh.tmp"
        shutil.copyfile(ASN_TEST, fresh)
        fresh.replace(live)
        clock.now = 30
        assert asn.maybe_reload() is True
        assert asn.lookup("1.128.0.1") == (1221, "Telstra Pty Ltd", "1.128.0.0/11")
