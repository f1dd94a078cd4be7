"""IP address -> autonomous system (number, organisation, announced network), from a MaxMind
ASN database (GeoLite2-ASN or GeoIP2-ISP), through the same reloading adapter as the City
database (:class:`enrich.geo.GeoIpReader`). Pure mapping; the file is geo.py's business."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from enrich.geo import ASN, Clock, GeoIpReader

#: (number, organisation or "", network in CIDR notation).
AsnInfo = tuple[int, str, str]


def asn_from_record(record: Any, prefix_len: int, ip: str) -> AsnInfo | None:
    """An ASN record and its prefix length as :data:`AsnInfo`; None when it has no number.
    Never raises, whatever the record holds."""
    if not isinstance(record, dict):
        return None
    number = record.get("autonomous_system_number")
    if type(number) is not int or number <= 0:
        return None
    name = record.get("autonomous_system_organization")
    try:
        network = str(ipaddress.ip_network(f"{ip}/{prefix_len}", strict=False))
    except ValueError:
        network = ""
    return number, name if isinstance(name, str) else "", network


def _lookup(reader: Any, ip: str) -> AsnInfo | None:
    record, prefix_len = reader.get_with_prefix_len(ip)
    return asn_from_record(record, prefix_len, ip)


def open_asn_database(
    path: str,
    *,
    cache_size: int = 100_000,
    reload_check_seconds: float = 60.0,
    clock: Clock = time.monotonic,
) -> GeoIpReader:
    """A reader whose ``lookup(ip)`` gives :data:`AsnInfo` or None; reloaded when the file
    is replaced, like the City one. Raises GeoIpDatabaseError (missing, corrupt, not ASN)."""
    return GeoIpReader(
        path,
        cache_size=cache_size,
        reload_check_seconds=reload_check_seconds,
        clock=clock,
        kinds=ASN,
        lookup=_lookup,
    )
