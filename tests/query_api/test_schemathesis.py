"""Schemathesis over the served /openapi.json: no 5xx, every response as documented."""

from __future__ import annotations

from typing import Any

from tests.query_api import fuzz
from tests.support.api import AppFactory, Secrets

EXAMPLES = 60


def test_api_matches_its_openapi_document(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    api, base_url = fuzz.seeded_api(app_factory, ch_client)
    operations = fuzz.operations(api)
    assert len(operations) == 7
    statuses: list[int] = []

    def run(case: Any) -> None:
        response = case.call(base_url=base_url)
        statuses.append(response.status_code)
        case.validate_response(response, checks=fuzz.CHECKS)

    def strategies(operation: Any) -> list[Any]:
        with_auth = operation.as_strategy(headers={"Auth-API-Key": secrets.acme})
        found = [with_auth, operation.as_strategy()]
        if "{visitor_id}" in operation.path and operation.method.upper() == "GET":
            # A visitor that exists, so query parameters reach real pages too.
            found.append(
                operation.as_strategy(
                    headers={"Auth-API-Key": secrets.acme}, path_parameters={"visitor_id": "Known"}
                )
            )
        return found

    fuzz.fuzz(operations, strategies, run, EXAMPLES)
    assert len(statuses) >= len(operations) * 5
    assert {200, 400, 403, 404} <= set(statuses)
