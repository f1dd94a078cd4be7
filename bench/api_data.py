"""The API benchmark's data set: N visits generated inside ClickHouse, and the request mix.

``INSERT INTO visits SELECT ... FROM system.numbers`` builds the rows server-side (no Python
per row, so 20M rows take a minute or two on 18.16); the materialized views fill
``visitor_summary``, ``visitor_summary_global`` and ``request_index`` from it as the worker's
inserts would. Visitors come in three tiers, so the rows a query reads can be shown to follow
the visitor's size and not the table's:

- ``huge``: 1% of the rows over :attr:`Tiers.huge` visitors (thousands of visits each);
- ``medium``: 4% over :attr:`Tiers.medium` visitors (hundreds each);
- ``small``: the other 95% hashed over :attr:`Tiers.small` visitors (~13 each, Poisson).

Visitor ids are ``h<k>``, ``m<k>``, ``s<k>`` plus a fixed hash-like suffix, so the request
mix can name visitors without reading them back. Timestamps spread over the 90 days before
the anchor; every column has a realistic value (real user agents' parsed fields, cities).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from schemas import visit
from schemas.clickhouse.tables import VISITS

DAY_MS: Final = 86_400_000
SPAN_DAYS: Final = 90
TENANT: Final = "bench"
_SUFFIX: Final = "Xq7Rb2"  # ids look like fingerprint ids (letters and digits), 10-14 chars


@dataclass(frozen=True)
class Tiers:
    """How many visitors each tier has for a table of ``rows`` visits."""

    rows: int

    @property
    def huge(self) -> int:
        return 40

    @property
    def medium(self) -> int:
        return max(self.rows // 5_000, 40)

    @property
    def small(self) -> int:
        return max(self.rows * 95 // 100 // 13, 100)

    def visits_per(self, tier: str) -> float:
        """Average visits of a visitor of ``tier``."""
        share = {"huge": 0.01, "medium": 0.04, "small": 0.95}[tier]
        visitors: int = getattr(self, tier)
        return self.rows * share / visitors


@dataclass(frozen=True)
class Table:
    """A database built with :func:`insert_sql`, handed from one benchmark section to the
    next (the API's to the analysts'): its name, rows, the anchor its 90 days end at, and the
    seconds its build took. Sharing saves a second 20M build (about 20 minutes here) and
    times the analysts' questions on the table the API served."""

    database: str
    rows: int
    anchor_ms: int
    build_s: float


def visitor_id(tier: str, k: int) -> str:
    """The id of visitor ``k`` of ``tier`` (``huge``, ``medium``, ``small``)."""
    return f"{tier[0]}{k}{_SUFFIX}"


_UAS = [
    ("Chrome", "120", "120.0.6099", "Windows", "10", "Other",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.130 Safari/537.36"),
    ("Mobile Safari", "17", "17.1", "iOS", "17.1.2", "iPhone",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"),
    ("Firefox", "121", "121.0", "Ubuntu", "", "Other",
     "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"),
    ("Chrome Mobile", "119", "119.0.0", "Android", "10", "K",
     "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Mobile Safari/537.36"),
]  # fmt: skip
_PLACES = [
    ("81.2.69.160", 100, 51.5142, -0.0931, None, "Europe/London", "London", "EU", "Europe",
     "GB", "United Kingdom", ["ENG"], ["England"]),
    ("89.160.20.112", 76, 58.4167, 15.6167, None, "Europe/Stockholm", "Linköping", "EU",
     "Europe", "SE", "Sweden", ["E"], ["Östergötland County"]),
    ("216.160.83.56", 40, 47.2513, -122.3149, "98354", "America/Los_Angeles", "Milton", "NA",
     "North America", "US", "United States", ["WA"], ["Washington"]),
    ("175.16.199.1", 100, 43.88, 125.3228, None, "Asia/Harbin", "Changchun", "AS", "Asia",
     "CN", "China", ["22"], ["Jilin Sheng"]),
]  # fmt: skip


#: The addresses the visits come from (v4's IP range searches).
PLACE_IPS: Final = tuple(str(p[0]) for p in _PLACES)
_COLUMNS: Final = (*VISITS.columns[: VISITS.columns.index("kafka_offset") + 1], "ip_key")


def _array(values: list[object]) -> str:
    def lit(v: object) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, list):
            return "[" + ", ".join(lit(x) for x in v) + "]"
        if isinstance(v, str):
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return repr(v)

    return "[" + ", ".join(lit(v) for v in values) + "]"


def insert_sql(database: str, rows: int, anchor_ms: int, *, millisecond_time: bool) -> str:
    """``INSERT ... SELECT`` of ``rows`` visits ending at ``anchor_ms`` (18.16 and current).

    ``tier`` picks the visitor tier from the row number; ``vk`` the visitor within it; ``ts``
    a time in the 90 days before the anchor; ``u`` and ``p`` a user agent and a place.
    """
    t = Tiers(rows)

    def ua(i: int) -> str:
        return f"{_array([u[i] for u in _UAS])}[u + 1]"

    def place(i: int) -> str:
        return f"{_array([p[i] for p in _PLACES])}[p + 1]"

    def ip_key() -> str:
        return f"{_array([visit.ip_key(str(p[0])) for p in _PLACES])}[p + 1]"

    # A bare integer into DateTime64(3) is read as seconds (year 9999 for these ms).
    time_expr = (
        "fromUnixTimestamp64Milli(toInt64(ts), 'UTC')"
        if millisecond_time
        else "toDateTime(intDiv(ts, 1000))"
    )
    # Named columns: the v4 ones (012) the list leaves out take their defaults, except
    # ip_key, the worker's (v4's IP range searches read it).
    return f"""
INSERT INTO {database}.visits ({", ".join(_COLUMNS)})
SELECT
    '{TENANT}' AS tenant,
    concat(tier, toString(vk), '{_SUFFIX}') AS visitor_id,
    ts AS timestamp_ms,
    concat(toString(ts), '.', lower(hex(intHash32(number)))) AS request_id,
    {time_expr} AS time,
    concat('https://shop.example.com/',
        ['', 'pricing', 'cart', 'checkout', 'search?q=shoes'][number % 5 + 1]) AS url,
    {place(0)} AS ip,
    toUInt8(number % 10 = 3) AS incognito,
    if(number % 5 = 1, concat('user-', toString(vk)), NULL) AS linked_id,
    if(number % 3 = 0, '{{"ab":{{"variant":"A"}},"campaign":"spring"}}', '{{}}') AS tag,
    toFloat32(0) AS bot_probability,
    {ua(0)} AS browser_name,
    {ua(1)} AS browser_major_version,
    {ua(2)} AS browser_full_version,
    {ua(3)} AS os,
    {ua(4)} AS os_version,
    {ua(5)} AS device,
    {ua(6)} AS user_agent,
    toUInt8(1) AS has_location,
    toNullable(toUInt32({place(1)})) AS accuracy_radius,
    toNullable({place(2)}) AS latitude,
    toNullable({place(3)}) AS longitude,
    {place(4)} AS postal_code,
    toNullable({place(5)}) AS timezone,
    toNullable({place(6)}) AS city_name,
    toNullable({place(7)}) AS continent_code,
    toNullable({place(8)}) AS continent_name,
    toNullable({place(9)}) AS country_code,
    toNullable({place(10)}) AS country_name,
    {place(11)} AS subdivision_iso_codes,
    {place(12)} AS subdivision_names,
    toDateTime(intDiv({anchor_ms}, 1000)) AS ingested_at,
    'bench' AS kafka_topic,
    toUInt32(number % 12) AS kafka_partition,
    number AS kafka_offset,
    {ip_key()} AS ip_key
FROM
(
    SELECT
        number,
        number % 100 AS r,
        if(r = 0, 'h', if(r < 5, 'm', 's')) AS tier,
        if(r = 0, intHash32(number) % {t.huge},
            if(r < 5, intHash32(number) % {t.medium}, intHash64(number) % {t.small})) AS vk,
        toUInt64({anchor_ms} - intHash64(number + 1) % {SPAN_DAYS * DAY_MS}) AS ts,
        intHash32(vk) % {len(_UAS)} AS u,
        intHash32(vk + 7) % {len(_PLACES)} AS p
    FROM system.numbers
    LIMIT {rows}
)
"""


@dataclass(frozen=True)
class Request:
    """One request of the mix: its path (query string included) and its visitor's tier."""

    tier: str
    path: str


def request_mix(rows: int, anchor_ms: int, count: int, seed: int = 11) -> list[Request]:
    """``count`` GET /visitors requests over random known visitors, windows and pages.

    Tiers are drawn 60% small, 30% medium, 10% huge (the heavy head is where a bad plan
    hurts). Windows: the default (10 days before now), the whole 90 days, or a random week;
    pages: ``limit`` 10, 50 or 100, and a third of them continue ``before`` a random time.
    """
    rng = random.Random(seed)
    t = Tiers(rows)
    out = []
    for _ in range(count):
        tier = rng.choices(("small", "medium", "huge"), weights=(6, 3, 1))[0]
        vid = visitor_id(tier, rng.randrange(getattr(t, tier)))
        params = [f"limit={rng.choice((10, 50, 100))}"]
        window = rng.random()
        if window < 0.4:
            params.append(f"from={anchor_ms - SPAN_DAYS * DAY_MS}")
        elif window < 0.7:
            start = anchor_ms - rng.randrange(7, SPAN_DAYS) * DAY_MS
            params += [f"from={start}", f"to={start + 7 * DAY_MS}"]
        if rng.random() < 0.33:
            params.append(f"before={anchor_ms - rng.randrange(SPAN_DAYS * DAY_MS)}")
        out.append(Request(tier, f"/visitors/{vid}?" + "&".join(params)))
    return out


def wrk_script(paths_file: str, token: str, think_ms: float = 0.0, *, bearer: bool = False) -> str:
    """wrk Lua: each request takes a random line of ``paths_file``; ``done`` prints JSON.
    ``bearer``: the token as v4 takes it (``Authorization: Bearer``), else v3's header.

    ``think_ms`` > 0: each connection waits a uniform random 0..2x``think_ms`` before each
    request (wrk's ``delay``), so N connections offer about N / think requests per second.
    """
    delay = (
        f"delay = function()\n  return math.random(0, {round(2 * think_ms)})\nend\n"
        if think_ms > 0
        else ""
    )
    header = (
        f'wrk.headers["Authorization"] = "Bearer {token}"'
        if bearer
        else (f'wrk.headers["Auth-Token"] = "{token}"')
    )
    return f"""
local paths = {{}}
for line in io.lines("{paths_file}") do paths[#paths + 1] = line end
{header}
math.randomseed(os.time())

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
{delay}
{_DONE}"""


def constant_script() -> str:
    """wrk Lua for GET /health, a route that answers a constant: the API's own floor."""
    return f"""
request = function()
  return wrk.format("GET", "/health")
end
{_DONE}"""


_DONE: Final = """done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    latency.mean))
end
"""
