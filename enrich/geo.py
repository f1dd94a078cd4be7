"""GeoIP adapter: IP address -> :class:`~schemas.visit.IpLocation`, from a MaxMind City mmdb.

The only module that imports ``maxminddb``. Records are read with the C extension
(``MODE_MMAP_EXT``) and turned into ``IpLocation`` straight from the raw dict: ``geoip2``'s
model objects would double the cost of an uncached lookup. Results (including "no location")
sit in a bounded LRU keyed by the IP string. The database file is re-stat()ed at most once per
``reload_check_seconds``; a replaced file (new inode, mtime or size, as geoipupdate's rename
produces) is opened and probed *before* it replaces the current reader, so lookups never fail
in between, and a corrupt replacement is refused while the old database keeps serving.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final

import maxminddb
from maxminddb.errors import InvalidDatabaseError

from enrich.errors import GeoIpDatabaseError
from schemas.resources import Closing
from schemas.visit import City, Continent, Country, IpLocation, Subdivision

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
_Stamp = tuple[int, int, int]

# Addresses present in MaxMind's production and test City databases; a probe lookup on each
# decodes real records, which is how a corrupt data section (it opens fine) shows at start-up.
_PROBE_IPS: Final = (
    "81.2.69.160", "89.160.20.112", "216.160.83.56", "2001:218::", "2a02:cf40::",
    "1.1.1.1", "8.8.8.8", "61.127.217.15", "2001:4860:4860::8888",
)  # fmt: skip
_PROBE_RECORDS: Final = 1000  # plus the first records of the tree walk


def _english(names: Any) -> str | None:
    name = names.get("en") if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else None


def _coded(node: Any, code_key: str) -> tuple[str, str] | None:
    if not isinstance(node, dict):
        return None
    code, name = node.get(code_key), _english(node.get("names"))
    return (code, name) if isinstance(code, str) and code and name else None


def location_from_record(record: Any) -> IpLocation | None:
    """Map a raw MaxMind City record to ``IpLocation`` (English names); None if it has nothing.

    Parts the record lacks stay ``None`` (omitted in JSON): a country without an English name,
    say, is dropped rather than shown half-empty, because the API's schema requires both
    ``code`` and ``name``. Never raises, whatever the record holds.
    """
    if not isinstance(record, dict):
        return None
    loc = record.get("location")
    loc = loc if isinstance(loc, dict) else {}
    radius, lat, lon, tz = (
        loc.get(k) for k in ("accuracy_radius", "latitude", "longitude", "time_zone")
    )
    postal = record.get("postal")
    postal_code = postal.get("code") if isinstance(postal, dict) else None
    city_name = (
        _english(record["city"].get("names")) if isinstance(record.get("city"), dict) else None
    )
    continent = _coded(record.get("continent"), "code")
    country = _coded(record.get("country"), "iso_code")
    subs = record.get("subdivisions")
    coded_subs = [_coded(s, "iso_code") for s in subs] if isinstance(subs, list) else []
    subdivisions = tuple(Subdivision(iso_code=c, name=n) for c, n in filter(None, coded_subs))
    result = IpLocation(
        accuracy_radius=radius if type(radius) is int else None,
        latitude=float(lat)
        if isinstance(lat, (int, float)) and not isinstance(lat, bool)
        else None,
        longitude=float(lon)
        if isinstance(lon, (int, float)) and not isinstance(lon, bool)
        else None,
        postal_code=postal_code if isinstance(postal_code, str) and postal_code else None,
        timezone=tz if isinstance(tz, str) and tz else None,
        city=City(name=city_name) if city_name else None,
        continent=Continent(code=continent[0], name=continent[1]) if continent else None,
        country=Country(code=country[0], name=country[1]) if country else None,
        subdivisions=subdivisions or None,
    )
    return None if result == _EMPTY else result


_EMPTY: Final = IpLocation()


def _stamp(path: str) -> _Stamp:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


#: Database types (``metadata().database_type`` contains one) each kind of reader accepts.
CITY: Final = ("City", "Enterprise")
ASN: Final = ("ASN",)

#: A lookup in an open database: (reader, ip) -> what the reader's users get.
Lookup = Callable[[Any, str], Any]


def city_lookup(reader: Any, ip: str) -> IpLocation | None:
    return location_from_record(reader.get(ip))


def open_city_database(path: str, kinds: tuple[str, ...] = CITY) -> tuple[maxminddb.Reader, _Stamp]:
    """Open and sanity-check a MaxMind mmdb of one of ``kinds`` (City by default); returns
    the reader and the file's stamp.

    Raises:
        GeoIpDatabaseError: missing or unreadable file, not a MaxMind DB, not of those kinds,
            search tree larger than the file, or a corrupt data section found by probe lookups.
    """
    try:
        stamp = _stamp(path)
        reader = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
    except FileNotFoundError:
        raise GeoIpDatabaseError(path, "file not found") from None
    except (OSError, ValueError, InvalidDatabaseError) as exc:
        raise GeoIpDatabaseError(path, f"cannot open: {exc}") from exc
    try:
        meta = reader.metadata()
        if not any(kind in meta.database_type for kind in kinds):
            raise GeoIpDatabaseError(path, f"not a {kinds[0]} database: {meta.database_type!r}")
        if meta.node_count * meta.record_size // 4 > stamp[2]:
            raise GeoIpDatabaseError(path, "search tree is larger than the file")
        for ip in _PROBE_IPS:
            if meta.ip_version == 6 or ":" not in ip:
                reader.get(ip)
        for _ in itertools.islice(reader, _PROBE_RECORDS):
            pass
    except GeoIpDatabaseError:
        reader.close()
        raise
    except (InvalidDatabaseError, ValueError, OSError) as exc:
        reader.close()
        raise GeoIpDatabaseError(path, f"corrupt: {exc}") from exc
    return reader, stamp


class GeoIpReader(Closing):
    """Looks IP addresses up in a MaxMind database; a context manager owning the file.

    Args:
        path: the ``.mmdb`` file (``VH_GEOIP_DATABASE``, or ``VH_GEOIP_ASN_DATABASE``).
        cache_size: LRU entries (IP strings) kept; bounds memory.
        reload_check_seconds: minimum interval between stat() calls watching for replacement.
        clock: monotonic seconds; injected so tests control reload timing.
        kinds: the database types accepted (:data:`CITY`, :data:`ASN`).
        lookup: what a lookup returns (default: the City location, :meth:`location`).
    Raises:
        GeoIpDatabaseError: at construction, if the file is missing or corrupt.
    """

    def __init__(
        self,
        path: str,
        *,
        cache_size: int = 100_000,
        reload_check_seconds: float = 60.0,
        clock: Clock = time.monotonic,
        kinds: tuple[str, ...] = CITY,
        lookup: Lookup = city_lookup,
    ) -> None:
        self.path = path
        self._kinds, self._lookup = kinds, lookup
        self._cache_size = cache_size
        self._interval = reload_check_seconds
        self._clock = clock
        reader, self._stamp = open_city_database(path, kinds)
        self._reader = reader
        self._build = int(reader.metadata().build_epoch)
        self._rejected: _Stamp | None = None
        self._next_check = clock() + reload_check_seconds
        self._cached = self._make_cached(reader)

    def _make_cached(self, reader: maxminddb.Reader) -> Callable[[str], Any]:
        lookup = self._lookup

        @functools.lru_cache(maxsize=self._cache_size)
        def cached(ip: str) -> Any:
            try:
                return lookup(reader, ip)
            except (ValueError, TypeError):  # not an address (NUL...), or IPv6 in an IPv4 DB
                return None
            except InvalidDatabaseError:
                logger.exception("corrupt GeoIP record for %s in %s", ip, self.path)
                return None

        return cached

    def location(self, ip: str) -> IpLocation | None:
        """The location of ``ip`` (IPv4 or IPv6 text), or None when the database has none.

        None for private, reserved, unknown or malformed addresses: nothing is invented.
        Never raises.
        """
        return self.lookup(ip)  # type: ignore[no-any-return]

    def lookup(self, ip: str) -> Any:
        """What the reader's ``lookup`` gives for ``ip`` (None when the database has nothing),
        cached; the file is checked for replacement first when it is time. Never raises."""
        if self._clock() >= self._next_check:
            self.maybe_reload()
        return self._cached(ip)

    @property
    def build_epoch(self) -> int:
        """When the database in use was built (epoch s, its metadata): what a row records."""
        return self._build

    def maybe_reload(self) -> bool:
        """Swap in the database file if it was replaced; returns True when it did.

        A replacement that fails to open or probe is logged and ignored (the current database
        keeps serving) until the file changes again. Never raises.
        """
        self._next_check = self._clock() + self._interval
        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            logger.warning("cannot stat GeoIP database %s, keeping current: %s", self.path, exc)
            return False
        if stamp in (self._stamp, self._rejected):
            return False
        try:
            reader, stamp = open_city_database(self.path, self._kinds)
        except GeoIpDatabaseError as exc:
            logger.error("not reloading GeoIP database, keeping current: %s", exc)
            self._rejected = stamp
            return False
        # One attribute store each: a lookup sees either the old pair or the new one. The new
        # cache starts empty, so no location from the old database outlives the swap. The old
        # reader is not closed here: a lookup in another thread may still hold it; it closes
        # when its last reference (the old cache closure) goes away.
        self._cached = self._make_cached(reader)
        self._reader, self._stamp = reader, stamp
        self._build = int(reader.metadata().build_epoch)
        logger.info("reloaded GeoIP database %s", self.path)
        return True

    def cache_clear(self) -> None:
        """Empty the location cache (for cold-cache measurements)."""
        self._cached.cache_clear()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Release the database file. Lookups afterwards are not allowed."""
        self._reader.close()
