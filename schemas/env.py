"""The ``VH_*`` environment contract: how a variable's text becomes a setting.

One set of rules for every package (ingest, enrich, query_api) so that the same text means
the same thing to the worker and to the API: unset or blank means the default, surrounding
whitespace is ignored, and a bad value raises the caller's own ``ConfigError`` type naming
the variable, the value and why (each package's callers catch the error type they know).
Pure: the caller passes the environment (``os.environ`` in entry points, a dict in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from schemas.clickhouse.tables import IDENTIFIER

#: Builds the exception to raise from (variable name, value as given, reason).
Error = Callable[[str, str, str], Exception]


class SettingError(Exception):
    """A ``VH_*`` setting has an unusable value. Each package raises its own subclass
    (``ingest.errors.ConfigError``, ...), so its callers catch the type they know."""

    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.name = name
        self.value = value
        self.reason = reason


_ON: Final = frozenset({"on", "true", "1", "yes"})
_OFF: Final = frozenset({"off", "false", "0", "no"})


def _raw(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name, "").strip()


def text(environ: Mapping[str, str], name: str, default: str) -> str:
    """The stripped value, or ``default`` when unset or blank."""
    return _raw(environ, name) or default


def integer(
    environ: Mapping[str, str], name: str, default: int, *, minimum: int, error: Error
) -> int:
    """A whole number ``>= minimum``."""
    raw = _raw(environ, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise error(name, raw, "not an integer") from None
    if value < minimum:
        raise error(name, raw, f"must be >= {minimum}")
    return value


def port(environ: Mapping[str, str], name: str, default: int, *, error: Error) -> int:
    """A TCP port (1-65535)."""
    value = integer(environ, name, default, minimum=1, error=error)
    if value > 65_535:
        raise error(name, str(value), "must be a TCP port (1-65535)")
    return value


def number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    error: Error,
    exclusive: bool = False,
) -> float:
    """A number ``>= minimum`` (``> minimum`` when ``exclusive``); NaN is refused."""
    raw = _raw(environ, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise error(name, raw, "not a number") from None
    # NaN fails both comparisons, so it is refused too.
    if not (value > minimum if exclusive else value >= minimum):
        raise error(name, raw, f"must be {'>' if exclusive else '>='} {minimum}")
    return value


def switch(environ: Mapping[str, str], name: str, default: bool, *, error: Error) -> bool:
    """``on``/``off`` (also true/false, 1/0, yes/no; any case)."""
    raw = _raw(environ, name)
    if not raw:
        return default
    if raw.lower() in _ON:
        return True
    if raw.lower() in _OFF:
        return False
    raise error(name, raw, "must be on or off")


def identifier(environ: Mapping[str, str], name: str, default: str, *, error: Error) -> str:
    """A plain SQL identifier (letters, digits, ``_``; at most 64), such as a database name."""
    value = text(environ, name, default)
    if not IDENTIFIER.fullmatch(value):
        raise error(name, value, "must be a plain identifier (letters, digits, _)")
    return value


@dataclass(frozen=True, slots=True)
class ClickHouseSettings:
    """Where ClickHouse is: the ``VH_CLICKHOUSE_*`` variables the worker and the API share.
    The defaults are the local stack's (``make up``)."""

    host: str = "127.0.0.1"
    port: int = 19000
    user: str = "default"
    password: str = ""
    database: str = "visit_history"


def clickhouse(environ: Mapping[str, str], *, error: Error) -> ClickHouseSettings:
    """``VH_CLICKHOUSE_HOST``/``_PORT``/``_USER``/``_PASSWORD``/``_DATABASE``."""
    d = ClickHouseSettings()
    return ClickHouseSettings(
        host=text(environ, "VH_CLICKHOUSE_HOST", d.host),
        port=port(environ, "VH_CLICKHOUSE_PORT", d.port, error=error),
        user=text(environ, "VH_CLICKHOUSE_USER", d.user),
        # A password may legitimately be blank or have edge spaces: taken verbatim.
        password=environ.get("VH_CLICKHOUSE_PASSWORD", d.password),
        # Spliced into SQL text (a database name cannot be a bound parameter).
        database=identifier(environ, "VH_CLICKHOUSE_DATABASE", d.database, error=error),
    )
