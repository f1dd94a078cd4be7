"""The enriched visit renders exactly as the seed's visit object."""

from __future__ import annotations

import json

from schemas.visit import (
    BrowserDetails,
    City,
    Continent,
    Country,
    EnrichedVisit,
    IpLocation,
    Subdivision,
    render_api_visit,
)

# The seed's visit, verbatim (server-api-seed.md; its trailing comma removed).
SEED_VISIT = json.loads("""
{
  "incognito": true,
  "linkedId": "somelinkedId",
  "time": "2019-05-21T16:40:13Z",
  "url": "https://www.example.com/login",
  "ip": "61.127.217.15",
  "ipLocation": {
    "accuracyRadius": 10, "latitude": 49.982, "longitude": 36.2566, "postalCode": "61202",
    "timezone": "Europe/Dusseldorf", "city": {"name": "Dusseldorf"},
    "continent": {"code": "EU", "name": "Europe"}, "country": {"code": "DE", "name": "Germany"},
    "subdivisions": [{"isoCode": "63", "name": "North Rhine-Westphalia"}]
  },
  "browserDetails": {
    "browserName": "Chrome", "browserMajorVersion": "74", "browserFullVersion": "74.0.3729",
    "os": "Windows", "osVersion": "7", "device": "Other",
    "userAgent": "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.157 Safari/537.36",
    "botProbability": 0
  }
}
""")  # noqa: E501


def _seed_visit(location: IpLocation | None) -> EnrichedVisit:
    return EnrichedVisit(
        workspace_id="demo",
        request_id="1558456813000.Ab1cD2",
        visitor_id="Ibk1527CUFmcnjLwIs4A9",
        timestamp=1_558_456_813_000,
        url="https://www.example.com/login",
        ip="61.127.217.15",
        incognito=True,
        linked_id="somelinkedId",
        ip_location=location,
        browser_details=BrowserDetails(
            browser_name="Chrome",
            browser_major_version="74",
            browser_full_version="74.0.3729",
            os="Windows",
            os_version="7",
            device="Other",
            user_agent=SEED_VISIT["browserDetails"]["userAgent"],
            bot_probability=0,
        ),
    )


SEED_LOCATION = IpLocation(
    accuracy_radius=10,
    latitude=49.982,
    longitude=36.2566,
    postal_code="61202",
    timezone="Europe/Dusseldorf",
    city=City(name="Dusseldorf"),
    continent=Continent(code="EU", name="Europe"),
    country=Country(code="DE", name="Germany"),
    subdivisions=(Subdivision(iso_code="63", name="North Rhine-Westphalia"),),
)


def test_renders_exactly_the_seed_visit() -> None:
    rendered = json.dumps(render_api_visit(_seed_visit(SEED_LOCATION)))
    assert rendered == json.dumps(SEED_VISIT)  # same keys, order, nesting and JSON types


def test_no_location_omits_the_key() -> None:
    rendered = render_api_visit(_seed_visit(None))
    assert "ipLocation" not in rendered


def test_partial_location_omits_absent_fields() -> None:
    rendered = json.loads(json.dumps(render_api_visit(_seed_visit(IpLocation(latitude=1.5)))))
    assert rendered["ipLocation"] == {"latitude": 1.5}
