"""Start-up that rides out a service restarting: each check is retried until a deadline.

A worker is started while its services restart as often as not (a deploy rolling the
brokers, a replica coming back, `make up` still starting): with one of three brokers down,
about one start-up in eight failed its first Kafka call (measured on the loopback cluster),
and a worker that exits then leaves its partitions to fewer members until something
restarts it. So a check that could not reach its service (:class:`Unreachable`) is tried
again with backoff until ``VH_STARTUP_TIMEOUT_SECONDS``; one that reached it and got a
definite answer (a missing table or topic, no permission) fails at once, since waiting
would not change it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ingest.backoff import Backoff
from ingest.errors import IngestError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class NotReady(IngestError):
    """A service the worker needs is missing; the message says what to run."""


class Unreachable(NotReady):
    """The service did not answer (worth another try until the start-up deadline)."""


def until_ready(
    attempt: Callable[[], T],
    *,
    deadline: float,
    backoff: Backoff,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> T:
    """``attempt()``'s result, retrying it while it raises :class:`Unreachable` and
    ``deadline`` (on ``clock``) leaves time for another try.

    Raises:
        Unreachable: still unreachable at the deadline (the last failure).
        NotReady: any other refusal, at once.
    """
    while True:
        try:
            result = attempt()
        except Unreachable as exc:
            delay = backoff.next_delay()
            if clock() + delay > deadline:
                raise
            logger.warning(
                "%s; retrying",
                exc,
                extra={"retry_in_s": round(delay, 3), "attempt": backoff.failures},
            )
            sleep(delay)
            continue
        if backoff.failures:
            logger.info("services answer again", extra={"failures": backoff.failures})
        return result
