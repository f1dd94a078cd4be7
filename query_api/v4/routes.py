"""The /v4 endpoints (Server API v4): search, get, update events; delete a visitor.

Each does what the v3 routes do (``query_api.routes.guarded``: authenticate, here by
``Authorization: Bearer``, rate-limit, map failures to v4's error envelope), then one hop to
the thread pool for its queries (:mod:`query_api.v4.events`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from query_api import routes
from query_api.auth import authenticate_bearer
from query_api.errors import JSONResponse, Shape
from query_api.services import Services
from query_api.tokens import Token
from query_api.v4 import events, params
from schemas.clickhouse import statements
from schemas.clickhouse.tables import EVENT_UPDATES


async def search_events(request: Request) -> Response:
    """GET /v4/events: a page of matching events, newest first (oldest with reverse)."""

    async def handle(services: Services, token: Token) -> Response:
        query = params.search(request.query_params, now_ms=services.now_ms())
        body = await run_in_threadpool(
            events.search, services.pool.run, services.layout, token.tenant, query
        )
        return JSONResponse(body)

    return await routes.guarded(request, Shape.V4, handle, authenticate_bearer)


async def get_event(request: Request) -> Response:
    """GET /v4/events/{event_id}: one event (a requestId is its event id)."""

    async def handle(services: Services, token: Token) -> Response:
        event_id = params.event_id(request.path_params["event_id"])
        body = await run_in_threadpool(
            events.get, services.pool.run, services.layout, token.tenant, event_id
        )
        return JSONResponse(body)

    return await routes.guarded(request, Shape.V4, handle, authenticate_bearer)


async def update_event(request: Request) -> Response:
    """PATCH /v4/events/{event_id}: set linked_id, tags, suspect; 200 with no body."""

    async def handle(services: Services, token: Token) -> Response:
        event_id = params.event_id(request.path_params["event_id"])
        change = params.event_update(await request.body())
        layout = services.layout
        visitor = await run_in_threadpool(
            events.update, services.pool.run, layout, token.tenant, event_id, change,
            services.now_ms(),
        )  # fmt: skip
        if layout.cluster:
            # Visible at once on the replicas that serve this visitor's reads.
            sync = statements.sync_replica(layout, EVENT_UPDATES.name)
            await run_in_threadpool(services.pool.on_replicas, visitor, sync)
        return Response(status_code=200)

    return await routes.guarded(request, Shape.V4, handle, authenticate_bearer)


async def delete_visitor(request: Request) -> Response:
    """DELETE /v4/visitors/{visitor_id}: v3's erasure, answered in v4's shapes."""
    return await routes.erase_visitor(request, Shape.V4, authenticate_bearer)
