"""``visit_pages.body`` (040_visit_pages.sql) back into the typed values of visits: pure.

The body is the fields below joined by TAB, in this order, as ClickHouse's view wrote them:
text escaped (backslash ``\\\\``, TAB ``\\t``, 0x1F ``\\u``), NULL as ``\\N``, numbers as
``toString`` (Float32 widened to Float64 first), arrays as each element preceded by 0x1F.
Decoded, each value is what clickhouse-driver returns for the typed column, so the renderers
cannot tell the two apart (tests/query_api/test_page_rows.py, on 18.16 and chdb).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

_ESCAPE: Final = re.compile(r"\\(.)", re.S)
_UNESCAPED: Final = {"\\": "\\", "t": "\t", "u": "\x1f"}
_NULL: Final = "\\N"


def _text(field: str) -> str:
    if "\\" not in field:
        return field
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(0)), field)


def _nullable_text(field: str) -> str | None:
    return None if field == _NULL else _text(field)


def _nullable_int(field: str) -> int | None:
    return None if field == _NULL else int(field)


def _nullable_float(field: str) -> float | None:
    return None if field == _NULL else float(field)


def _array(field: str) -> list[str]:
    return [_text(e) for e in field.split("\x1f")[1:]]


_DECODE: Final[dict[str, Callable[[str], Any]]] = {
    "text": _text,
    "nullable text": _nullable_text,
    "int": int,
    "nullable int": _nullable_int,
    "float": float,
    "nullable float": _nullable_float,
    "array": _array,
}

#: (visits column, kind) in body order: v3's VISIT_COLUMNS after request_id and timestamp_ms,
#: then v4's V4_COLUMNS. 040_visit_pages.sql writes exactly these.
BODY_FIELDS: Final = (
    ("url", "text"),
    ("ip", "text"),
    ("incognito", "int"),
    ("linked_id", "nullable text"),
    ("tag", "text"),
    ("bot_probability", "float"),
    ("browser_name", "text"),
    ("browser_major_version", "text"),
    ("browser_full_version", "text"),
    ("os", "text"),
    ("os_version", "text"),
    ("device", "text"),
    ("user_agent", "text"),
    ("has_location", "int"),
    ("accuracy_radius", "nullable int"),
    ("latitude", "nullable float"),
    ("longitude", "nullable float"),
    ("postal_code", "nullable text"),
    ("timezone", "nullable text"),
    ("city_name", "nullable text"),
    ("continent_code", "nullable text"),
    ("continent_name", "nullable text"),
    ("country_code", "nullable text"),
    ("country_name", "nullable text"),
    ("subdivision_iso_codes", "array"),
    ("subdivision_names", "array"),
    ("client_referrer", "nullable text"),
    ("environment_id", "text"),
    ("sdk_platform", "text"),
    ("sdk_version", "text"),
    ("asn", "int"),
    ("asn_name", "text"),
    ("asn_network", "text"),
    ("bot", "text"),
)
BODY_COLUMNS: Final = tuple(name for name, _ in BODY_FIELDS)
_DECODERS: Final = tuple(_DECODE[kind] for _, kind in BODY_FIELDS)


class DamagedBody(ValueError):
    """A body without the expected fields (a view of another version wrote it)."""


def decode(body: str) -> list[Any]:
    """The values of BODY_COLUMNS, typed as the visits columns read back. Raises DamagedBody."""
    fields = body.split("\t")
    if len(fields) != len(_DECODERS):
        raise DamagedBody(f"{len(fields)} fields, {len(_DECODERS)} expected")
    try:
        return [f(v) for f, v in zip(_DECODERS, fields, strict=True)]
    except ValueError as exc:
        raise DamagedBody(str(exc)) from exc
