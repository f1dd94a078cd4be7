"""Errors of the enrichment package; each carries what an operator needs to act."""

from __future__ import annotations

from schemas.env import SettingError


class EnrichError(Exception):
    """Base class of everything :mod:`enrich` raises."""


class GeoIpDatabaseError(EnrichError):
    """The GeoIP database at ``path`` is missing, unreadable or corrupt (``reason`` says which)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"GeoIP database {path!r}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(EnrichError, SettingError):
    """A ``VH_*`` enrichment setting has an unusable value (``name``, ``value``, ``reason``)."""
