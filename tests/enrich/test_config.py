"""EnrichConfig reads an explicit environ once."""

from __future__ import annotations

import pytest

from enrich.config import EnrichConfig, default_geoip_database
from enrich.errors import ConfigError


def test_defaults_use_the_packaged_geolite2() -> None:
    config = EnrichConfig.from_env({})
    assert config.geoip_database == default_geoip_database()
    assert config.geoip_database.endswith("GeoLite2-City.mmdb")
    assert config.geoip_cache_size > 0 and config.ua_cache_size > 0


def test_values_from_environ() -> None:
    config = EnrichConfig.from_env(
        {
            "VH_GEOIP_DATABASE": "/var/lib/GeoIP/GeoIP2-City.mmdb",
            "VH_GEOIP_CACHE_SIZE": "10",
            "VH_UA_CACHE_SIZE": "20",
            "VH_GEOIP_RELOAD_CHECK_SECONDS": "0",
        }
    )
    assert config == EnrichConfig("/var/lib/GeoIP/GeoIP2-City.mmdb", 10, 20, 0.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VH_GEOIP_CACHE_SIZE", "0"),
        ("VH_UA_CACHE_SIZE", "many"),
        ("VH_GEOIP_RELOAD_CHECK_SECONDS", "-1"),
        ("VH_GEOIP_RELOAD_CHECK_SECONDS", "nan"),
        ("VH_ENRICH", "maybe"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        EnrichConfig.from_env({name: value})
    assert info.value.name == name


@pytest.mark.parametrize(
    ("value", "enabled"), [("", True), ("on", True), ("ON", True), ("1", True), ("off", False),
                           ("false", False), (" Off ", False), ("0", False)],
)  # fmt: skip
def test_enrichment_switch(value: str, enabled: bool) -> None:
    assert EnrichConfig.from_env({"VH_ENRICH": value}).enabled is enabled


def test_the_asn_database_is_optional() -> None:
    assert EnrichConfig.from_env({}).geoip_asn_database == ""
    config = EnrichConfig.from_env({"VH_GEOIP_ASN_DATABASE": "/var/lib/GeoIP/GeoLite2-ASN.mmdb"})
    assert config.geoip_asn_database == "/var/lib/GeoIP/GeoLite2-ASN.mmdb"
