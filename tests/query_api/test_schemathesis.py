"""Schemathesis over the served /openapi.json: no 5xx, every response as documented."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.query_api import visits
from tests.query_api.conftest import TENANT, AppFactory, Secrets, now_ms

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 60


def test_api_matches_its_openapi_document(
    app_factory: AppFactory, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 60_000
    visits.insert(
        ch_client,
        [
            visits.visit(TENANT, "Known", t + i, f"k{i}", linked_id="L", tag={"i": i})
            for i in range(30)
        ],
    )
    api = app_factory(VH_API_RATE_LIMIT="10000", VH_API_RATE_BURST="10000")
    base_url = str(api.base_url)
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 7
    statuses: list[int] = []

    def run(case: Any) -> None:
        response = case.call(base_url=base_url)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    for operation in operations:
        with_auth = operation.as_strategy(headers={"Auth-API-Key": secrets.acme})
        strategies = [with_auth, operation.as_strategy()]
        if "{visitor_id}" in operation.path and operation.method.upper() == "GET":
            # A visitor that exists, so query parameters reach real pages too.
            strategies.append(
                operation.as_strategy(
                    headers={"Auth-API-Key": secrets.acme}, path_parameters={"visitor_id": "Known"}
                )
            )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def check(case: Any) -> None:
            run(case)

        check()
    assert len(statuses) >= len(operations) * 5
    assert {200, 400, 403, 404} <= set(statuses)
