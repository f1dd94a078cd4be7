"""The ``VH_*`` environment contract: how a variable's text becomes a setting.

One set of rules for every package (ingest, enrich, query_api) so that the same text means
the same thing to the worker and to the API: unset or blank means the default, surrounding
whitespace is ignored, and a bad value raises the caller's own ``ConfigError`` type naming
the variable, the value and why (each package's callers catch the error type they know).
Pure: the caller passes the environment (``os.environ`` in entry points, a dict in tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

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


# Spliced into SQL text (a database name cannot be a bound parameter), so nothing but this.
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
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
    if not _IDENTIFIER.fullmatch(value):
        raise error(name, value, "must be a plain identifier (letters, digits, _)")
    return value
