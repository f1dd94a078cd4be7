"""The ``VH_*`` environment contract: how a variable's text becomes a setting.

One set of rules for every package (ingest, enrich, query_api) so that the same text means
the same thing to the worker and to the API: unset or blank means the default, surrounding
whitespace is ignored, and a bad value raises the caller's own ``ConfigError`` type naming
the variable, the value and why (each package's callers catch the error type they know).
Pure: the caller passes the environment (``os.environ`` in entry points, a dict in tests).

Each setting is declared once, as a field of a frozen dataclass: ``setting(variable, default,
meaning, ...)``. :func:`load` reads every declared field of a class; :func:`markdown_table`
writes the README's configuration table from the same declarations (a test keeps the two
equal), so the code and the docs cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.tables import IDENTIFIER

#: Builds the exception to raise from (variable name, value as given, reason).
Error = Callable[[str, str, str], Exception]
T = TypeVar("T")


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
    """A plain SQL identifier (letters, digits, ``_``; at most 64), such as a database name;
    unset with an empty default: empty (an optional name)."""
    value = text(environ, name, default)
    if not value and not default:
        return ""
    if not IDENTIFIER.fullmatch(value):
        raise error(name, value, "must be a plain identifier (letters, digits, _)")
    return value


# -- declarations ------------------------------------------------------------------------------

Kind = Literal["text", "integer", "number", "switch", "identifier", "port", "verbatim", "path"]
_SETTING: Final = "vh_setting"
_NESTED: Final = "vh_nested"


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``VH_*`` variable: how its text is read and what it means (one line)."""

    variable: str
    meaning: str
    kind: Kind
    minimum: float | None = None
    exclusive: bool = False
    #: How the docs show the default when it is computed or a local path.
    shown: str | None = None


def setting(
    variable: str,
    default: Any,
    meaning: str,
    *,
    kind: Kind | None = None,
    minimum: float | None = None,
    exclusive: bool = False,
    shown: str | None = None,
) -> Any:
    """A dataclass field read from ``variable`` by :func:`load`. The kind follows the
    default's type (str: text, int: integer, float: number, bool: switch, Path: path) unless
    given (``identifier``, ``port``, ``verbatim`` for a password taken as is)."""
    if kind is None:
        kind = (
            "switch" if isinstance(default, bool)
            else "integer" if isinstance(default, int)
            else "number" if isinstance(default, float)
            else "path" if isinstance(default, Path)
            else "text"
        )  # fmt: skip
    spec = Setting(variable, meaning, kind, minimum, exclusive, shown)
    return field(default=default, metadata={_SETTING: spec})


def nested(cls: type[Any]) -> Any:
    """A field holding another declared settings class (read by :func:`load` as well)."""
    return field(default_factory=cls, metadata={_NESTED: True})


def load(cls: type[T], environ: Mapping[str, str], *, error: Error) -> T:
    """An instance of the settings dataclass ``cls`` from ``environ``: each declared field
    from its variable (unset or blank: the default). Cross-field rules are the caller's.

    Raises:
        whatever ``error`` builds, for the first unusable value.
    """
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.metadata.get(_NESTED):
            inner: type[Any] = f.default_factory  # type: ignore[assignment]
            values[f.name] = load(inner, environ, error=error)
        elif _SETTING in f.metadata:
            values[f.name] = _read(f.metadata[_SETTING], environ, f.default, error)
    return cls(**values)


def is_set(environ: Mapping[str, str], variable: str) -> bool:
    """Whether ``variable`` has a value (not unset, not blank)."""
    return bool(_raw(environ, variable))


def declared(cls: type[Any], *, include_nested: bool = True) -> list[tuple[Setting, Any]]:
    """The settings of ``cls`` (and of the classes it nests, unless told not to), with their
    defaults, in order."""
    out: list[tuple[Setting, Any]] = []
    for f in fields(cls):
        if f.metadata.get(_NESTED):
            if include_nested:
                out += declared(f.default_factory)  # type: ignore[arg-type]
        elif _SETTING in f.metadata:
            out.append((f.metadata[_SETTING], f.default))
    return out


def _read(spec: Setting, environ: Mapping[str, str], default: Any, error: Error) -> Any:
    name, low = spec.variable, spec.minimum
    if spec.kind == "integer":
        return integer(environ, name, default, minimum=int(low or 0), error=error)
    if spec.kind == "number":
        floor = float("-inf") if low is None else low
        return number(environ, name, default, minimum=floor, exclusive=spec.exclusive, error=error)
    if spec.kind == "switch":
        return switch(environ, name, default, error=error)
    if spec.kind == "port":
        return port(environ, name, default, error=error)
    if spec.kind == "identifier":
        return identifier(environ, name, default, error=error)
    if spec.kind == "verbatim":
        return environ.get(name, default)
    if spec.kind == "path":
        return Path(text(environ, name, str(default))).resolve()
    return text(environ, name, default)


def markdown_table(sections: Sequence[tuple[type[Any], str]]) -> str:
    """The configuration table of the docs: one row per variable, in declaration order, with
    who reads it. Nested classes are not repeated: list them as sections of their own."""
    rows: dict[str, tuple[Setting, Any, list[str]]] = {}
    for cls, used_by in sections:
        for spec, default in declared(cls, include_nested=False):
            if spec.variable in rows:
                rows[spec.variable][2].append(used_by)
            else:
                rows[spec.variable] = (spec, default, [used_by])
    lines = ["| variable | default | used by | meaning |", "|---|---|---|---|"]
    for spec, default, users in rows.values():
        text = ("on" if default else "off") if isinstance(default, bool) else default
        shown = spec.shown or ("empty" if default == "" else f"`{text}`")
        lines.append(f"| `{spec.variable}` | {shown} | {', '.join(users)} | {spec.meaning} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class ClickHouseSettings:
    """Where ClickHouse is: the ``VH_CLICKHOUSE_*`` variables the worker and the API share.
    The defaults are the local stack's (``make up``)."""

    host: str = setting("VH_CLICKHOUSE_HOST", "127.0.0.1", "ClickHouse host (native protocol)")
    port: int = setting("VH_CLICKHOUSE_PORT", 19000, "ClickHouse native port", kind="port")
    user: str = setting("VH_CLICKHOUSE_USER", "default", "ClickHouse user")
    # A password may legitimately be blank or have edge spaces: taken verbatim.
    password: str = setting(
        "VH_CLICKHOUSE_PASSWORD", "", "its password (taken verbatim)", kind="verbatim"
    )
    # Spliced into SQL text (a database name cannot be a bound parameter).
    database: str = setting(
        "VH_CLICKHOUSE_DATABASE", "visit_history", "database", kind="identifier"
    )
    cluster: str = setting(
        "VH_CLICKHOUSE_CLUSTER",
        "",
        "a cluster of the servers' `remote_servers`: the schema sharded and replicated over"
        " it (docs/scaling.md); empty: one server",
        kind="identifier",
    )
    alt_hosts: str = setting(
        "VH_CLICKHOUSE_ALT_HOSTS",
        "",
        "more `host:port` nodes, comma-separated, to fail over to when the host is down",
    )

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def layout(self) -> Layout:
        """Where the schema lives: this database, on one server or the cluster."""
        return Layout(self.database, self.cluster or None)


def clickhouse(environ: Mapping[str, str], *, error: Error) -> ClickHouseSettings:
    """The ``VH_CLICKHOUSE_*`` settings."""
    return load(ClickHouseSettings, environ, error=error)
