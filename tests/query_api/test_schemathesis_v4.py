"""Schemathesis over the served /v4/openapi.json: no 5xx, every response as documented."""

from __future__ import annotations

from typing import Any

from tests.query_api import fuzz
from tests.support.api import AppFactory, Secrets

EXAMPLES = 60


def test_v4_matches_its_openapi_document(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    api, base_url = fuzz.seeded_api(app_factory, ch_client)
    operations = fuzz.operations(api, "/v4/openapi.json")
    assert len(operations) == 4
    statuses: list[int] = []
    auth = {"Authorization": f"Bearer {secrets.acme}"}

    def run(case: Any) -> None:
        response = case.call(base_url=base_url)
        statuses.append(response.status_code)
        case.validate_response(response, checks=fuzz.CHECKS)

    def strategies(operation: Any) -> list[Any]:
        found = [operation.as_strategy(headers=auth), operation.as_strategy()]
        if operation.path == "/v4/events/{event_id}" and operation.method.upper() == "GET":
            found.append(operation.as_strategy(headers=auth, path_parameters={"event_id": "k3"}))
        if operation.path == "/v4/events":
            found.append(operation.as_strategy(headers=auth, query={"visitor_id": "Known"}))
        return found

    fuzz.fuzz(operations, strategies, run, EXAMPLES)
    assert len(statuses) >= len(operations) * 5
    assert {200, 400, 403, 404} <= set(statuses)
