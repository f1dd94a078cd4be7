"""The Starlette application factory: ``create_app(config)``.

The lifespan opens the ClickHouse client pool and the token store, and keeps the tokens fresh
in the background; requests reach them through ``request.state.services``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import schemas
from query_api import routes
from query_api.coalesce import Coalescer
from query_api.config import ApiConfig
from query_api.errors import JSONResponse
from query_api.metrics import Metrics, ObserveMiddleware
from query_api.pool import ClientPool, DatabaseError
from query_api.ratelimit import Clock, RateLimiter
from query_api.services import Services, wall_clock_ms
from query_api.tokens import TokenStore
from query_api.v4 import routes as v4

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(schemas.__file__).resolve().parent / "openapi.json"
OPENAPI_V4_PATH = OPENAPI_PATH.with_name("openapi-v4.json")


async def _refresh_tokens(services: Services) -> None:
    """Reload tokens every ``token_refresh_seconds`` for the app's whole life.

    A failed reload keeps the last set, whatever it raised: a loop that ended on an
    unexpected error would leave revocations unloaded for good while the API kept answering.
    How old the tokens are shows on /ready and as vh_api_token_refresh_age_seconds.
    Only cancellation (the lifespan ending) stops it.
    """
    while True:
        try:
            await run_in_threadpool(services.tokens.refresh, services.pool.execute)
        except DatabaseError:
            log.warning("token refresh failed; keeping the previous tokens", exc_info=True)
        except Exception:
            log.exception("token refresh failed unexpectedly; keeping the previous tokens")
        await asyncio.sleep(services.config.token_refresh_seconds)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods: JSON like every other answer, not Starlette's text.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": str(exc.detail).lower()}, status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"error": "internal server error"}, status_code=500)


def create_app(
    config: ApiConfig,
    *,
    now_ms: Callable[[], int] = wall_clock_ms,
    limiter_clock: Clock | None = None,
    refresh_clock: Clock = time.monotonic,
) -> Starlette:
    """Build the API for ``config``. ``now_ms``, ``limiter_clock`` and ``refresh_clock`` (what
    dates token refreshes, monotonic seconds) are for tests."""
    metrics = Metrics()
    limiter = (
        RateLimiter(config.rate_limit, config.rate_burst)
        if limiter_clock is None
        else RateLimiter(config.rate_limit, config.rate_burst, clock=limiter_clock)
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        services = Services(
            config=config,
            pool=ClientPool(config),
            tokens=TokenStore(config.clickhouse.database, clock=refresh_clock),
            limiter=limiter,
            metrics=metrics,
            openapi=OPENAPI_PATH.read_bytes(),
            openapi_v4=OPENAPI_V4_PATH.read_bytes(),
            now_ms=now_ms,
        )
        services.coalescer = Coalescer(
            services.pool.run, config.clickhouse.layout, config.pool_size,
            wait_s=services.pool.checkout_timeout,
        )  # fmt: skip
        metrics.watch_tokens(services.tokens.age)
        # The first load happens in the background too: if ClickHouse is down at start the
        # API still comes up (answering 403 and /ready 503) and recovers when it returns.
        refresher = asyncio.create_task(_refresh_tokens(services))
        try:
            yield {"services": services}
        finally:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            services.pool.close()

    return Starlette(
        routes=[
            Route("/visitors/{visitor_id}", routes.get_visits, methods=["GET"]),
            Route("/visitors/{visitor_id}", routes.delete_visitor, methods=["DELETE"]),
            Route("/events/{request_id}", routes.get_event, methods=["GET"]),
            Route("/v4/events", v4.search_events, methods=["GET"]),
            Route("/v4/events/{event_id}", v4.get_event, methods=["GET"]),
            Route("/v4/events/{event_id}", v4.update_event, methods=["PATCH"]),
            Route("/v4/visitors/{visitor_id}", v4.delete_visitor, methods=["DELETE"]),
            Route("/v4/openapi.json", routes.openapi_v4, methods=["GET"]),
            Route("/health", routes.health, methods=["GET"]),
            Route("/ready", routes.ready, methods=["GET"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
            Route("/openapi.json", routes.openapi, methods=["GET"]),
        ],
        middleware=[Middleware(ObserveMiddleware, metrics=metrics)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
