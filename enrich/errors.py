"""Errors of the enrichment package; each carries what an operator needs to act."""

from __future__ import annotations


class EnrichError(Exception):
    """Base class of everything :mod:`enrich` raises."""


class GeoIpDatabaseError(EnrichError):
    """The GeoIP database at ``path`` is missing, unreadable or corrupt (``reason`` says which)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"GeoIP database {path!r}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(EnrichError):
    """An ``VH_*`` enrichment setting has an unusable value."""

    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason
