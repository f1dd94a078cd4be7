"""The analysts' typical questions as SQL (docs/analytics.md, ``vh report``, ``make bench``),
each on the raw visits and, where the aggregates can answer it, on them: the two give the
same rows. Pure: text plus bound parameters; every one runs on 18.16 and current servers.

Parameters: ``tenant``; ``start`` and ``end``, UTC days ``YYYY-MM-DD``, both included;
``visitor`` for a visitor's sessions; ``least`` for the thresholds of the fraud signals.
Raw answers count visits as distinct requestIds (``uniqCombined``: a redelivered copy counts
once; the aggregates hold its states, and merging them gives what it computes over the rows,
so the two agree) and leave out erased visits with the erasures table (their mutation may
still be running).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

#: Session gap: visits more than 30 minutes apart are two sessions.
SESSION_GAP_MS: Final = 30 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Question:
    """``raw`` answers from visits, ``view`` (None: only raw can) from the aggregates."""

    key: str
    title: str
    raw: str
    view: str | None = None

    def statements(self, layout: Layout, params: dict[str, Any]) -> tuple[Statement, ...]:
        """(raw,) or (raw, view), with ``{db}`` filled (the Distributed tables on a
        cluster: every shard answers)."""
        sqls = (self.raw,) if self.view is None else (self.raw, self.view)
        return tuple(Statement(s.format(db=layout.database), params) for s in sqls)


#: The tenant's visits of the window, erased ones included (``make bench`` times its floors).
RAW_WINDOW: Final = (
    "tenant = %(tenant)s AND toDate(time) BETWEEN toDate(%(start)s) AND toDate(%(end)s)"
)


def _src(columns: str, where: str = "") -> str:
    """The tenant's surviving visits of the window (``columns`` of them)."""
    return (
        f"(SELECT {columns} FROM {{db}}.visits WHERE {RAW_WINDOW}{where}) AS v"
        " ANY LEFT JOIN (SELECT visitor_id, max(erased_at_ms) AS erased_at_ms"
        " FROM {db}.erasures WHERE tenant = %(tenant)s GROUP BY visitor_id) AS e"
        " USING (visitor_id) WHERE timestamp_ms > erased_at_ms"
    )


_DAYS: Final = "tenant = %(tenant)s AND day BETWEEN toDate(%(start)s) AND toDate(%(end)s)"
_COLUMN: Final = {
    "country": "toString(ifNull(country_code, ''))",
    "browser": "toString(browser_name)",
    "os": "toString(os)",
    "device": "toString(device)",
}


def _share(dimension: str) -> Question:
    """Visits and visitors by one dimension over the window, with the share of visits."""
    outer = (
        f"SELECT g.1 AS {dimension}, g.2 AS visits, g.3 AS visitors,"
        " round(100 * g.2 / arraySum(arrayMap(x -> x.2, gs)), 2) AS share"
        " FROM (SELECT groupArray((value, visits, visitors)) AS gs FROM ({inner}))"
        f" ARRAY JOIN gs AS g ORDER BY visits DESC, {dimension}"
    )
    columns = f"visitor_id, timestamp_ms, request_id, {_COLUMN[dimension]} AS value"
    raw = (
        "SELECT value, uniqCombined(request_id) AS visits, uniqCombined(visitor_id) AS visitors"
        f" FROM {_src(columns)} GROUP BY value"
    )
    view = (
        "SELECT value, uniqCombinedMerge(visits) AS visits, uniqCombinedMerge(visitors) AS visitors"
        f" FROM {{db}}.traffic_daily WHERE {_DAYS} AND dimension = '{dimension}' GROUP BY value"
    )
    title = {"os": "OS"}.get(dimension, dimension)
    return Question(
        f"{dimension}_share",
        f"Visits by {title}, with shares",
        outer.replace("{inner}", raw),
        outer.replace("{inner}", view),
    )


_DAILY = Question(
    "daily",
    "Traffic by day",
    "SELECT toDate(time) AS day, uniqCombined(request_id) AS visits,"
    " uniqCombined(visitor_id) AS visitors"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time')} GROUP BY day ORDER BY day",
    "SELECT day, uniqCombinedMerge(visits) AS visits, uniqCombinedMerge(visitors) AS visitors"
    f" FROM {{db}}.traffic_daily WHERE {_DAYS} AND dimension = 'all' GROUP BY day ORDER BY day",
)
_COUNTRY_DAY = Question(
    "country_day",
    "Traffic by country and day",
    "SELECT toDate(time) AS day, toString(ifNull(country_code, '')) AS country,"
    " uniqCombined(request_id) AS visits, uniqCombined(visitor_id) AS visitors"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time, country_code')}"
    " GROUP BY day, country ORDER BY day, visits DESC, country",
    "SELECT day, value AS country, uniqCombinedMerge(visits) AS visits,"
    " uniqCombinedMerge(visitors) AS visitors"
    f" FROM {{db}}.traffic_daily WHERE {_DAYS} AND dimension = 'country'"
    " GROUP BY day, country ORDER BY day, visits DESC, country",
)
_OS_TREND = Question(
    "os_trend",
    "OS shares by day (the trend)",
    "SELECT day, g.1 AS os, g.2 AS visits, round(100 * g.2 / arraySum(arrayMap(x -> x.2, gs)),"
    " 2) AS share FROM (SELECT day, groupArray((os, visits)) AS gs FROM"
    " (SELECT toDate(time) AS day, toString(os) AS os, uniqCombined(request_id) AS visits"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time, os')} GROUP BY day, os)"
    " GROUP BY day) ARRAY JOIN gs AS g ORDER BY day, visits DESC, os",
    "SELECT day, g.1 AS os, g.2 AS visits, round(100 * g.2 / arraySum(arrayMap(x -> x.2, gs)),"
    " 2) AS share FROM (SELECT day, groupArray((value, visits)) AS gs FROM"
    " (SELECT day, value, uniqCombinedMerge(visits) AS visits FROM {db}.traffic_daily"
    f" WHERE {_DAYS} AND dimension = 'os' GROUP BY day, value)"
    " GROUP BY day) ARRAY JOIN gs AS g ORDER BY day, visits DESC, os",
)
_BOTS = Question(
    "bots_incognito",
    "Bot and incognito shares by day",
    "SELECT day, visits, bots, round(100 * bots / visits, 2) AS bot_share, incognito,"
    " round(100 * incognito / visits, 2) AS incognito_share FROM (SELECT toDate(time) AS day,"
    " uniqCombined(request_id) AS visits,"
    " uniqCombinedIf(request_id, bot_probability >= 0.5) AS bots,"
    " uniqCombinedIf(request_id, incognito = 1) AS incognito FROM"
    f" {_src('visitor_id, timestamp_ms, request_id, time, bot_probability, incognito')}"
    " GROUP BY day) ORDER BY day",
    "SELECT day, visits, bots, round(100 * bots / visits, 2) AS bot_share, incognito,"
    " round(100 * incognito / visits, 2) AS incognito_share FROM (SELECT day,"
    " uniqCombinedMerge(visits) AS visits, uniqCombinedMerge(bot_visits) AS bots,"
    f" uniqCombinedMerge(incognito_visits) AS incognito FROM {{db}}.traffic_daily WHERE {_DAYS}"
    " AND dimension = 'all' GROUP BY day) ORDER BY day",
)
_NEW = Question(
    "new_vs_returning",
    "New versus returning visitors by day (new: first seen that day, in all history)",
    "SELECT day, uniqCombined(visitor_id) AS visitors,"
    " uniqCombinedIf(visitor_id, first_day = day) AS new,"
    " visitors - new AS returning FROM (SELECT toDate(time) AS day, visitor_id"
    f" FROM {_src('visitor_id, timestamp_ms, time')}) AS d ANY LEFT JOIN"
    " (SELECT visitor_id, toDate(min(time)) AS first_day FROM (SELECT visitor_id, timestamp_ms,"
    " time FROM {db}.visits WHERE tenant = %(tenant)s) AS v ANY LEFT JOIN (SELECT visitor_id,"
    " max(erased_at_ms) AS erased_at_ms FROM {db}.erasures WHERE tenant = %(tenant)s"
    " GROUP BY visitor_id) AS e USING (visitor_id) WHERE timestamp_ms > erased_at_ms"
    " GROUP BY visitor_id) AS f USING (visitor_id) GROUP BY day ORDER BY day",
    "SELECT day, visitors, new, visitors - new AS returning FROM (SELECT day,"
    " uniqCombinedMerge(visitors) AS visitors FROM {db}.traffic_daily"
    f" WHERE {_DAYS} AND dimension = 'all' GROUP BY day) AS d ANY LEFT JOIN (SELECT"
    " toDate(toDateTime(intDiv(first, 1000), 'UTC')) AS day, count() AS new FROM (SELECT"
    " minMerge(first_seen) AS first FROM {db}.visitor_summary WHERE tenant = %(tenant)s"
    " GROUP BY visitor_id) WHERE day BETWEEN toDate(%(start)s) AND toDate(%(end)s)"
    " GROUP BY day) AS f USING (day) ORDER BY day",
)
_HOURLY = Question(
    "hourly",
    "Traffic by hour",
    "SELECT toStartOfHour(toDateTime(time, 'UTC')) AS hour,"
    " uniqCombined(request_id) AS visits, uniqCombined(visitor_id) AS visitors"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time')} GROUP BY hour ORDER BY hour",
    "SELECT hour, uniqCombinedMerge(visits) AS visits, uniqCombinedMerge(visitors) AS visitors"
    " FROM {db}.traffic_hourly WHERE tenant = %(tenant)s"
    " AND toDate(hour) BETWEEN toDate(%(start)s) AND toDate(%(end)s) GROUP BY hour ORDER BY hour",
)
_BOT_ASN = Question(
    "bots_by_asn",
    "Bot share by ASN (the networks bots come from)",
    "SELECT asn, asn_name, visits, bots, round(100 * bots / visits, 2) AS bot_share FROM"
    " (SELECT asn, max(asn_name) AS asn_name, uniqCombined(request_id) AS visits,"
    " uniqCombinedIf(request_id, bot != 'not_detected') AS bots"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, asn, asn_name, bot')} GROUP BY asn)"
    " ORDER BY bots DESC, visits DESC, asn LIMIT 20",
)
_TOP = Question(
    "top_visitors",
    "Top visitors of the window",
    "SELECT visitor_id, uniqCombined(request_id) AS visits, uniqCombined(toDate(time)) AS days,"
    " toString(max(time)) AS last_visit"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time')}"
    " GROUP BY visitor_id ORDER BY visits DESC, visitor_id LIMIT 10",
)
_LINKED = Question(
    "shared_linked_ids",
    "Linked ids seen with many visitors (account sharing)",
    "SELECT linked_id, uniqCombined(visitor_id) AS visitors, uniqCombined(request_id) AS visits"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, linked_id')}"
    " AND linked_id IS NOT NULL GROUP BY linked_id HAVING visitors >= %(least)s"
    " ORDER BY visitors DESC, linked_id LIMIT 20",
)
_COUNTRIES = Question(
    "many_countries",
    "Visitors seen from many countries in a day (a fraud signal)",
    "SELECT toDate(time) AS day, visitor_id, uniqCombined(country_code) AS countries,"
    " arraySort(groupUniqArray(country_code)) AS seen"
    f" FROM {_src('visitor_id, timestamp_ms, time, country_code')}"
    " GROUP BY day, visitor_id HAVING countries >= %(least)s"
    " ORDER BY countries DESC, day, visitor_id LIMIT 20",
)
_IPS = Question(
    "many_ips",
    "Visitors seen from many IP addresses in a day (a fraud signal)",
    "SELECT toDate(time) AS day, visitor_id, uniqCombined(ip) AS ips,"
    " uniqCombined(request_id) AS visits"
    f" FROM {_src('visitor_id, timestamp_ms, request_id, time, ip')}"
    " GROUP BY day, visitor_id HAVING ips >= %(least)s ORDER BY ips DESC, day, visitor_id LIMIT 20",
)
_CAME_BACK = Question(
    "came_back",
    "Visitors who came back on another day of the window",
    "SELECT count() AS visitors, countIf(days >= 2) AS returning,"
    " round(100 * returning / visitors, 2) AS returning_share FROM (SELECT visitor_id,"
    f" uniqCombined(toDate(time)) AS days FROM {_src('visitor_id, timestamp_ms, time')}"
    " GROUP BY visitor_id)",
)
_SESSIONS = Question(
    "sessions",
    "A visitor's sessions (a gap of more than 30 minutes starts a new one)",
    "SELECT session, toString(toDateTime(intDiv(min(t), 1000), 'UTC')) AS started,"
    " round((max(t) - min(t)) / 60000, 1) AS minutes, count() AS visits FROM (SELECT"
    " arraySort(groupUniqArray((timestamp_ms, request_id))) AS vs, arrayMap(x -> x.1, vs) AS ts,"
    " arrayCumSum(arrayMap((i, g) -> toUInt32(i = 1 OR g > "
    f"{SESSION_GAP_MS}), arrayEnumerate(ts), arrayDifference(ts))) AS sessions FROM"
    f" {_src('visitor_id, timestamp_ms, request_id', ' AND visitor_id = %(visitor)s')})"
    " ARRAY JOIN ts AS t, sessions AS session GROUP BY session ORDER BY session",
)

#: Every question, in the order docs/analytics.md shows them.
QUESTIONS: Final = (
    _DAILY,
    _COUNTRY_DAY,
    _share("country"),
    _share("browser"),
    _share("os"),
    _share("device"),
    _OS_TREND,
    _BOTS,
    _BOT_ASN,
    _NEW,
    _HOURLY,
    _TOP,
    _LINKED,
    _COUNTRIES,
    _IPS,
    _CAME_BACK,
    _SESSIONS,
)
BY_KEY: Final = {q.key: q for q in QUESTIONS}

_BREAK: Final = re.compile(
    r" (FROM|WHERE|GROUP BY|ORDER BY|HAVING|LIMIT|ANY LEFT JOIN|ARRAY JOIN|USING) "
)


def inline(sql: str, params: dict[str, Any]) -> str:
    """``sql`` with its parameters written in as literals: the text an analyst pastes into
    clickhouse-client (strings quoted and escaped as the driver does, numbers as they are)."""

    def literal(value: Any) -> str:
        if isinstance(value, bool | int | float):
            return str(value)
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    return sql % {k: literal(v) for k, v in params.items()}


def pretty(sql: str) -> str:
    """One line of SQL as indented lines: a clause per line, subqueries one level deeper.
    Only whitespace changes (outside quotes), so the text runs as before."""
    out: list[str] = []
    depth, quoted, i = 0, False, 0
    while i < len(sql):
        char = sql[i]
        if char == "'" and (i == 0 or sql[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            if sql.startswith("(SELECT ", i):
                out.append("(\n" + "    " * depth)
                i += 1
                continue
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and char == " " and (match := _BREAK.match(sql, i)):
            out.append("\n" + "    " * depth + match.group(1) + " ")
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)
