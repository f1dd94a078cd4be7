"""Enrichment settings, read once at start-up from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enrich.errors import ConfigError
from schemas import env


def default_geoip_database() -> str:
    """Path of the GeoLite2-City database shipped in the ``maxminddb-geolite2`` package.

    It dates from 2018: good enough to run out of the box, not for production accuracy.
    """
    from geolite2 import geolite2_database  # imported lazily: only needed for the default

    return str(geolite2_database())


@dataclass(frozen=True, slots=True)
class EnrichConfig:
    """Settings of :class:`enrich.enricher.Enricher`.

    Attributes:
        geoip_database: ``VH_GEOIP_DATABASE``, path of a MaxMind City (or GeoLite2-City) mmdb.
        geoip_cache_size: ``VH_GEOIP_CACHE_SIZE``, IP addresses kept in the location LRU.
        ua_cache_size: ``VH_UA_CACHE_SIZE``, user-agent strings kept in the parse LRU.
        geoip_reload_check_seconds: ``VH_GEOIP_RELOAD_CHECK_SECONDS``, how often the database
            file is stat()ed for replacement; 0 checks on every lookup.
        enabled: ``VH_ENRICH`` (``on``/``off``). Off, the worker stores visits without
            ``ipLocation`` and with only the raw user agent in ``browserDetails`` (no GeoIP
            database is opened): for raw-only pipelines, and the benchmark's baseline (a).
    """

    geoip_database: str
    geoip_cache_size: int = 100_000
    ua_cache_size: int = 20_000
    geoip_reload_check_seconds: float = 60.0
    enabled: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EnrichConfig:
        """Build the settings from ``environ`` (pass ``os.environ`` in entry points).

        Raises:
            ConfigError: a set variable is not a valid number, or ``VH_ENRICH`` not on/off.
        """
        database = env.text(environ, "VH_GEOIP_DATABASE", "") or default_geoip_database()
        return cls(
            geoip_database=database,
            geoip_cache_size=env.integer(
                environ, "VH_GEOIP_CACHE_SIZE", 100_000, minimum=1, error=ConfigError
            ),
            ua_cache_size=env.integer(
                environ, "VH_UA_CACHE_SIZE", 20_000, minimum=1, error=ConfigError
            ),
            geoip_reload_check_seconds=env.number(
                environ, "VH_GEOIP_RELOAD_CHECK_SECONDS", 60.0, minimum=0.0, error=ConfigError
            ),
            enabled=env.switch(environ, "VH_ENRICH", True, error=ConfigError),
        )
