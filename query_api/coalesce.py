"""First pages that wait for ClickHouse together go to it together (one statement).

At most ``slots`` statements are in flight (the client pool's size). A page that arrives
while one is free goes alone, at once: no waiting is added to an idle service. Pages that
arrive while every slot is busy queue, and the next free slot takes up to ``max_batch`` of
one tenant's queued pages, each visitor once, in one :mod:`query_api.batch_pages` statement
(on 18.16 about a quarter of the CPU per page at 8 pages, bench/profiling.md). Each page's
answer is what its own statement gives (tests/query_api/test_batch_pages.py): nothing is
cached, every page reads ClickHouse after it arrived, so a stored visit, an erasure or a
PATCH shows exactly as without batching. A page waits for a slot at most ``wait_s`` (the
pool's checkout timeout), then fails as a pool checkout does (``PoolTimeout``, a 503 with
Retry-After): under overload requests are refused, not queued without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from query_api import batch_pages, pages, render
from query_api.params import VisitQuery
from query_api.pool import PoolTimeout
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

Page = tuple[list[tuple[Any, ...]], render.Summary]
Run = Callable[[Statement], list[tuple[Any, ...]]]


class Coalescer:
    """Batches first pages per tenant; owned by the app's services (one per process).

    Args:
        run: executes a statement (the client pool's ``run``), blocking: called in the
            thread pool.
        layout: where the tables are (a cluster never batches).
        slots: statements in flight at most.
        max_batch: pages per statement at most.
        wait_s: how long a page may wait for a slot before ``PoolTimeout``.
    """

    def __init__(
        self, run: Run, layout: Layout, slots: int, max_batch: int = 32, wait_s: float = 5.0
    ) -> None:
        self._run, self._layout, self._max, self._wait_s = run, layout, max_batch, wait_s
        self._slots = asyncio.Semaphore(slots)
        self._queued: dict[str, list[tuple[VisitQuery, asyncio.Future[Page]]]] = {}
        self._draining = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: Statements sent and pages they carried (metrics and tests).
        self.statements = 0
        self.pages = 0

    async def page(self, tenant: str, query: VisitQuery) -> Page:
        """The page's rows and summary, as ``pages.load`` gives them. Raises what it raises."""
        if not batch_pages.batchable(self._layout, query):
            try:
                await asyncio.wait_for(self._slots.acquire(), self._wait_s)
            except TimeoutError:
                raise self._timeout() from None
            try:
                self.statements += 1
                self.pages += 1
                return await run_in_threadpool(pages.load, self._run, self._layout, tenant, query)
            finally:
                self._slots.release()
        future: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
        item = (query, future)
        self._queued.setdefault(tenant, []).append(item)
        if not self._draining:
            self._draining = True
            self._spawn(self._drain())
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._wait_s)
        except TimeoutError:
            queued = self._queued.get(tenant, [])
            if item not in queued:  # taken meanwhile: its answer is on its way
                return await future
            queued.remove(item)
            if not queued:
                del self._queued[tenant]
            raise self._timeout() from None

    def _timeout(self) -> PoolTimeout:
        return PoolTimeout(f"no ClickHouse client free within {self._wait_s:g}s")

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._queued:
                await self._slots.acquire()
                tenant, batch = self._take()
                self._spawn(self._send(tenant, batch))
        finally:
            self._draining = False

    def _take(self) -> tuple[str, list[tuple[VisitQuery, asyncio.Future[Page]]]]:
        """Up to max_batch queued pages of the longest-waiting tenant, each visitor once."""
        tenant = next(iter(self._queued))
        queued = self._queued.pop(tenant)
        batch: list[tuple[VisitQuery, asyncio.Future[Page]]] = []
        rest: list[tuple[VisitQuery, asyncio.Future[Page]]] = []
        seen: set[str] = set()
        for item in queued:
            if len(batch) < self._max and item[0].visitor_id not in seen:
                seen.add(item[0].visitor_id)
                batch.append(item)
            else:
                rest.append(item)
        if rest:
            self._queued[tenant] = rest  # after the other tenants: they waited longer
        return tenant, batch

    async def _send(
        self, tenant: str, batch: list[tuple[VisitQuery, asyncio.Future[Page]]]
    ) -> None:
        queries = [q for q, _ in batch]
        self.statements += 1
        self.pages += len(batch)
        try:
            if len(batch) == 1:
                results: list[Page | BaseException] = [
                    await run_in_threadpool(pages.load, self._run, self._layout, tenant, queries[0])
                ]
            else:
                statement = batch_pages.statement(self._layout, tenant, queries)
                rows = await run_in_threadpool(self._run, statement)
                results = []
                for q, own in zip(queries, batch_pages.split(rows, queries), strict=True):
                    try:
                        results.append(pages.assemble(own, q))
                    except Exception as exc:  # one damaged page fails only its request
                        results.append(exc)
        except Exception as exc:
            results = [exc] * len(batch)
        finally:
            self._slots.release()
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the request went away (client disconnected)
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
