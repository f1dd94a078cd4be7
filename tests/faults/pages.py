"""Walk a visitor's whole history through the API, page by page (``paginationKey``)."""

from __future__ import annotations

from typing import Any

import httpx

PAGE = 500  # the API's maximum limit


def all_visits(
    client: httpx.Client, visitor: str, headers: dict[str, str]
) -> tuple[int, list[dict[str, Any]]]:
    """(status of the first page, every visit of every page in order). ``from=0``: all time."""
    params: dict[str, str] = {"from": "0", "limit": str(PAGE)}
    visits: list[dict[str, Any]] = []
    first_status = 0
    while True:
        response = client.get(f"/visitors/{visitor}", headers=headers, params=params)
        first_status = first_status or response.status_code
        if response.status_code != 200:
            assert response.status_code < 500, (visitor, response.status_code, response.text)
            return first_status, visits
        body = response.json()
        visits += body["visits"]
        key = body.get("paginationKey")
        if key is None:
            return first_status, visits
        params = {"from": "0", "limit": str(PAGE), "paginationKey": key}
