"""Enrichment settings, read once at start-up from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from enrich.errors import ConfigError
from schemas import env
from schemas.env import setting


def default_geoip_database() -> str:
    """Path of the GeoLite2-City database shipped in the ``maxminddb-geolite2`` package.

    It dates from 2018: good enough to run out of the box, not for production accuracy.
    """
    from geolite2 import geolite2_database  # imported lazily: only needed for the default

    return str(geolite2_database())


@dataclass(frozen=True, slots=True)
class EnrichConfig:
    """Settings of :class:`enrich.enricher.Enricher` (docs/enrichment.md).

    ``enabled`` off: the worker stores visits without ``ipLocation`` and with only the raw
    user agent in ``browserDetails`` (no GeoIP database is opened): for raw-only pipelines,
    and the benchmark's baseline (a).
    """

    USED_BY: ClassVar[str] = "worker"

    geoip_database: str = setting(
        "VH_GEOIP_DATABASE",
        "",
        "City `.mmdb` (GeoIP2 or GeoLite2); a replaced file is reloaded without a restart",
        shown="packaged GeoLite2-City",
    )
    geoip_cache_size: int = setting(
        "VH_GEOIP_CACHE_SIZE", 100_000, "IP location cache entries", minimum=1
    )
    ua_cache_size: int = setting("VH_UA_CACHE_SIZE", 20_000, "user-agent cache entries", minimum=1)
    geoip_reload_check_seconds: float = setting(
        "VH_GEOIP_RELOAD_CHECK_SECONDS",
        60.0,
        "how often the database file is checked for replacement; 0 on every lookup",
        minimum=0.0,
    )
    enabled: bool = setting(
        "VH_ENRICH",
        True,
        "`off` stores visits without `ipLocation` and with only the raw user agent",
    )
    geoip_asn_database: str = setting(
        "VH_GEOIP_ASN_DATABASE",
        "",
        "ASN `.mmdb` (GeoLite2-ASN); reloaded like the City one; empty: no ASN in events",
        shown="none",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EnrichConfig:
        """Build the settings from ``environ`` (pass ``os.environ`` in entry points).

        Raises:
            ConfigError: a set variable is not a valid number, or ``VH_ENRICH`` not on/off.
        """
        config = env.load(cls, environ, error=ConfigError)
        if not config.geoip_database:
            config = replace(config, geoip_database=default_geoip_database())
        return config
