"""The HTTP endpoints. Each does: authenticate, rate-limit, parse, query (thread pool), render.

Blocking ClickHouse calls run in Starlette's thread pool; the pool hands each call its own
Client. Failures become the route's v3 error shape; a stack trace never reaches a client.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from query_api import page_rows, pages, params, queries, render
from query_api.auth import authenticate
from query_api.errors import ApiError, JSONResponse, Shape, bad_request, too_many_requests
from query_api.errors import unavailable as unavailable_error
from query_api.pool import DatabaseError
from query_api.services import Services
from query_api.tokens import Token, TokenStore
from schemas.clickhouse import statements

log = logging.getLogger(__name__)


def _services(request: Request) -> Services:
    services: Services = request.state.services
    return services


Authenticate = Callable[[Request, TokenStore, Shape], Token]


async def guarded(
    request: Request,
    shape: Shape,
    handler: Callable[[Services, Token], Awaitable[Response]],
    auth: Authenticate = authenticate,
) -> Response:
    """Authenticate (``auth``) and rate-limit, run ``handler``, map expected failures to
    ``shape``."""
    services = _services(request)
    try:
        if not services.tokens.loaded:
            # Tokens never loaded (ClickHouse down since start): 403 would blame the client.
            raise unavailable_error()
        token = auth(request, services.tokens, shape)
        request.state.token_id = token.token_id  # for the access log
        wait = services.limiter.acquire(token.token_id)
        if wait:
            raise too_many_requests(wait)
        return await handler(services, token)
    except params.BadParameter as exc:
        return bad_request(str(exc)).response(shape)
    except ApiError as exc:
        return exc.response(shape)
    except (DatabaseError, page_rows.DamagedBody):
        # A damaged body (visit_pages written by a view of another version) is the store's
        # failure too, never the client's.
        services.metrics.db_errors.inc()
        log.exception("ClickHouse query failed")
        return unavailable_error().response(shape)


async def _page(
    services: Services, tenant: str, query: params.VisitQuery
) -> tuple[list[tuple[object, ...]], render.Summary]:
    if services.coalescer is not None:
        return await services.coalescer.page(tenant, query)
    return await run_in_threadpool(pages.load, services.pool.run, services.layout, tenant, query)


async def get_visits(request: Request) -> Response:
    """GET /visitors/{visitor_id}: a page of visits, newest first. Errors: v3 plain shape."""

    async def handle(services: Services, token: Token) -> Response:
        config = services.config
        query = params.visit_query(
            request.path_params["visitor_id"],
            request.query_params,
            now_ms=services.now_ms(),
            default_limit=config.default_limit,
            max_limit=config.max_limit,
        )
        rows, about = await _page(services, token.tenant, query)
        status, body = render.visitors(query, rows, about)
        return JSONResponse(body, status_code=status)

    return await guarded(request, Shape.PLAIN, handle)


async def get_event(request: Request) -> Response:
    """GET /events/{request_id}: one visit as v3's identification product. Coded errors."""

    async def handle(services: Services, token: Token) -> Response:
        request_id = params.request_id(request.path_params["request_id"])
        where = queries.locate_request(services.layout, token.tenant, request_id)
        found = await run_in_threadpool(services.pool.run, where)
        not_found = ApiError(404, "RequestNotFound", "request id is not found")
        if not found:
            raise not_found
        visitor_id, ts = str(found[0][0]), int(found[0][1])
        rows, about = await _page(
            services, token.tenant, params.event_query(visitor_id, ts, request_id)
        )
        if not render.has_visit(rows[0]):  # erased since, or its row not yet visible
            raise not_found
        return JSONResponse(render.event(visitor_id, rows[0], about))

    return await guarded(request, Shape.CODED, handle)


async def delete_visitor(request: Request) -> Response:
    """DELETE /visitors/{visitor_id}: erase the tenant's visitor now; 200 with no body."""
    return await erase_visitor(request, Shape.CODED)


async def erase_visitor(
    request: Request, shape: Shape, auth: Authenticate = authenticate
) -> Response:
    """Erase the path's visitor for the token's tenant, answering in ``shape`` (v3's DELETE
    and v4's); 404 when the tenant has no (unerased) visit of it."""

    async def handle(services: Services, token: Token) -> Response:
        visitor_id = params.visitor_id(request.path_params["visitor_id"])
        state = queries.visitor_state(services.layout, token.tenant, visitor_id)
        rows = await run_in_threadpool(services.pool.run, state)
        count, last_seen, erased_at = (int(v) for v in rows[0])
        if count == 0 or last_seen <= erased_at:
            raise ApiError(404, "VisitorNotFound", "visitor not found")
        now = services.now_ms()
        # Before the deletes: the days whose aggregates the erasure rebuilds.
        days = await run_in_threadpool(
            services.pool.run, queries.erased_days(services.layout, token.tenant, visitor_id, now)
        )
        record, *deletes = queries.erase(
            services.layout, token.tenant, visitor_id, now, [str(d[0]) for d in days]
        )
        await run_in_threadpool(services.pool.run, record)
        if services.layout.cluster:
            # Visible at once: the replicas that serve this visitor's reads have the erasure
            # before we answer (the erasures table replicates to every node asynchronously).
            sync = statements.sync_replica(services.layout, "erasures")
            await run_in_threadpool(services.pool.on_replicas, visitor_id, sync)
        for statement in deletes:
            await run_in_threadpool(services.pool.run, statement)
        return Response(status_code=200)

    return await guarded(request, shape, handle, auth)


async def health(request: Request) -> Response:
    """Alive: the process answers. Never touches ClickHouse."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """Ready: ClickHouse answers, tokens are loaded and fresh; 503 with the reason otherwise.

    Every answer carries ``tokenRefreshAgeSeconds``, the age of the last good token refresh
    (null before the first). Past ``config.token_stale_seconds`` the API is not ready
    (``tokens_stale``): its revocations may be that old, so traffic belongs elsewhere.
    """
    services = _services(request)
    try:
        await run_in_threadpool(services.pool.execute, queries.PING.sql, queries.PING.params)
        reason = None
    except DatabaseError:
        reason = "clickhouse"
    age = services.tokens.age()
    if reason is None and age is None:
        reason = "tokens"
    elif reason is None and age is not None and age > services.config.token_stale_seconds:
        reason = "tokens_stale"
    body: dict[str, object] = {"tokenRefreshAgeSeconds": None if age is None else round(age, 3)}
    if reason is not None:
        return JSONResponse({"status": "unavailable", "reason": reason, **body}, status_code=503)
    return JSONResponse({"status": "ready", **body})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(_services(request).metrics.render(), media_type="text/plain; version=0.0.4")


async def openapi(request: Request) -> Response:
    """schemas/openapi.json, as served."""
    return Response(_services(request).openapi, media_type="application/json")


async def openapi_v4(request: Request) -> Response:
    """schemas/openapi-v4.json, as served: the v4 routes."""
    return Response(_services(request).openapi_v4, media_type="application/json")
