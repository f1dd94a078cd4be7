"""Schemathesis over the API's served ``/openapi.json``: what both fuzzing tests share.

``tests/query_api/test_schemathesis.py`` checks conformance with a few examples per operation;
``tests/faults/test_hostile_requests.py`` runs many more, with hostile visitor ids, and
counts what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
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
from tests.support.api import TENANT, now_ms

#: Every response: no 5xx, and status, content type, headers and body as documented.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def operations(client: httpx.Client, document: str = "/openapi.json") -> list[Any]:
    """The operations of a document the API serves (from ``client``'s base URL): v3's unless
    told (``/v4/openapi.json``)."""
    schema = schemathesis.openapi.from_dict(client.get(document).json())
    return [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]


def fuzz(
    operations: list[Any],
    strategies: Callable[[Any], list[Any]],
    run: Callable[[Any], None],
    examples: int,
) -> None:
    """Up to ``examples`` cases per operation, drawn from ``strategies(operation)``; each is
    handed to ``run``, which sends it and checks the response."""
    for operation in operations:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies(operation)))
        def check(case: Any) -> None:
            run(case)

        check()


def seeded_api(app_factory: Any, ch_client: Any) -> tuple[httpx.Client, str]:
    """The API with rate limits out of the way, over a visitor ``Known`` with 30 visits (a
    linked id, tags) so that fuzzed queries reach real pages too; and its base URL."""
    t = now_ms() - 60_000
    visits.insert(
        ch_client,
        [
            visits.visit(TENANT, "Known", t + i, f"k{i}", linked_id="L", tag={"i": i})
            for i in range(30)
        ],
    )
    api = app_factory(VH_API_RATE_LIMIT="10000", VH_API_RATE_BURST="10000")
    return api, str(api.base_url)
