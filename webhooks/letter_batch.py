"""Dead letters stored in batches: many small inserts would cost ClickHouse a part each
(an endpoint down with a full queue dead-letters every event it is sent), so letters wait
up to ``max_wait_s`` or ``max_rows`` and go as one insert; each waiter learns when its
letter is stored. A failed insert is retried (with jittered backoff) until it succeeds:
until then the letters' offsets stay uncommitted."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

from webhooks.deadletters import DeadLetter
from webhooks.errors import StoreUnavailable

logger = logging.getLogger(__name__)


class LetterBatcher:
    """Call :meth:`store` from the event loop; ``insert`` runs in ``executor`` (blocking).

    Args:
        insert: stores letters as one block (raises ``StoreUnavailable``).
        run_blocking: runs ``insert`` off the loop (``loop.run_in_executor`` bound to the
            letters' one-thread executor).
    """

    def __init__(
        self,
        insert: Callable[[Sequence[DeadLetter]], None],
        run_blocking: Callable[[Callable[[], None]], asyncio.Future[None]],
        random: Callable[[], float],
        *,
        max_rows: int = 1000,
        max_wait_s: float = 0.2,
    ) -> None:
        self.insert, self.run_blocking, self.random = insert, run_blocking, random
        self.max_rows, self.max_wait_s = max_rows, max_wait_s
        self._waiting: list[tuple[DeadLetter, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(self, letter: DeadLetter) -> None:
        """Returns once ``letter`` is stored (retried meanwhile, however long it takes)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((letter, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        failures = 0
        while self._waiting:
            if len(self._waiting) < self.max_rows:
                await asyncio.sleep(self.max_wait_s)
            batch, self._waiting = self._waiting[: self.max_rows], self._waiting[self.max_rows :]
            letters = [letter for letter, _ in batch]
            try:
                await self.run_blocking(functools.partial(self.insert, letters))
            except StoreUnavailable as exc:
                self._waiting = batch + self._waiting
                failures += 1
                delay = min(30.0, 0.5 * 2.0**failures) * self.random()
                logger.error(
                    "dead letters not stored; retrying",
                    extra={"letters": len(batch), "error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
