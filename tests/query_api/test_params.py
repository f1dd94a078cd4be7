"""Query parsing: defaults, both time formats, and a 400 message naming each bad parameter."""

from __future__ import annotations

import pytest

from query_api.params import DAY_MS, MAX_MS, BadParameter, VisitQuery, visit_query

NOW = 1_700_000_000_000


def parse(**query: str) -> VisitQuery:
    return visit_query("Ibk1527CUFmcnjLwIs4A9", query, now_ms=NOW, default_limit=100, max_limit=500)


def test_defaults_are_the_last_ten_days_and_limit_100() -> None:
    q = parse()
    assert (q.from_ms, q.to_ms, q.limit) == (NOW - 10 * DAY_MS, MAX_MS, 100)
    assert (q.before_ms, q.pagination_key, q.request_id, q.linked_id) == (None, None, None, None)


def test_iso_and_epoch_ms_mean_the_same_instant() -> None:
    iso = parse(**{"from": "2023-11-14T22:13:20Z", "to": "2023-11-14T22:13:21.5+00:00"})
    ms = parse(**{"from": "1700000000000", "to": "1700000001500"})
    assert (iso.from_ms, iso.to_ms) == (ms.from_ms, ms.to_ms) == (NOW, NOW + 1500)


def test_naive_iso_is_utc_and_offsets_are_honoured() -> None:
    assert parse(**{"from": "2023-11-14T22:13:20"}).from_ms == NOW
    assert parse(**{"from": "2023-11-15T00:13:20+02:00"}).from_ms == NOW


def test_default_from_follows_an_earlier_to() -> None:
    q = parse(to=str(NOW - 30 * DAY_MS))
    assert q.from_ms == NOW - 40 * DAY_MS


@pytest.mark.parametrize("continuing", [{"paginationKey": "k.1"}, {"before": str(NOW - 5)}])
def test_a_continuing_page_without_from_reaches_a_day_further_back(
    continuing: dict[str, str],
) -> None:
    assert parse(**continuing).from_ms == NOW - 11 * DAY_MS
    assert parse(**continuing, to=str(NOW - DAY_MS)).from_ms == NOW - 12 * DAY_MS
    assert parse(**continuing, **{"from": str(NOW - DAY_MS)}).from_ms == NOW - DAY_MS  # as given


def test_every_parameter_is_carried() -> None:
    q = parse(limit="7", before="123", paginationKey="k.1", request_id="r.1", linked_id="L")
    assert (q.limit, q.before_ms, q.pagination_key, q.request_id, q.linked_id) == (
        7,
        123,
        "k.1",
        "r.1",
        "L",
    )


def test_unknown_parameters_are_ignored() -> None:
    assert parse(ii="fingerprint-pro-server-python-sdk/8.0.0", foo="bar") == parse()


@pytest.mark.parametrize(
    ("query", "name", "words"),
    [
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"limit": "501"}, "limit", "from 1 to 500"),
        ({"limit": "ten"}, "limit", "integer"),
        ({"limit": "-1"}, "limit", "integer"),
        ({"before": "yesterday"}, "before", "epoch milliseconds"),
        ({"before": "-5"}, "before", "non-negative"),
        ({"from": "2024-13-01"}, "from", "ISO 8601"),
        ({"to": "soon"}, "to", "ISO 8601"),
        ({"from": "1700000000000", "to": "1700000000000"}, "from", "earlier than to"),
        ({"from": "1969-12-31T00:00:00Z"}, "from", "1970"),
        ({"paginationKey": ""}, "paginationKey", "printable"),
        ({"request_id": "x" * 257}, "request_id", "256"),
        ({"linked_id": "a\x00b"}, "linked_id", "printable"),
        ({"before": "99999999999999999999"}, "before", "epoch milliseconds"),
    ],
)
def test_bad_values_name_the_parameter(query: dict[str, str], name: str, words: str) -> None:
    with pytest.raises(BadParameter) as err:
        parse(**query)
    assert err.value.name == name
    assert str(err.value).startswith(f"{name}: ")
    assert words in str(err.value)


@pytest.mark.parametrize("visitor", ["", "a b", "a/b", "x" * 65, "é"])
def test_bad_visitor_ids(visitor: str) -> None:
    with pytest.raises(BadParameter, match=r"^visitor_id: "):
        visit_query(visitor, {}, now_ms=NOW, default_limit=100, max_limit=500)
