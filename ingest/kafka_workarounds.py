"""A kafka-python 3.0 bug worked around for every client of this process.

A connection attempt that fails (refused while a broker is down, or timed out on a loaded
machine) leaves its socket open: ``KafkaNetSocket.connect`` creates it and
``sock_connect`` raises without closing it. The descriptor is only freed when the garbage
collector finds the socket, which warns (``ResourceWarning: unclosed <socket.socket ...>``);
a worker riding out a long outage retries connects every backoff, so they pile up between
collections. Here a failed ``sock_connect`` closes its socket before the error propagates.

Applied once per process, to the class (every client created later gets it), and only to the
3.0 line whose internals this mirrors; other versions run unpatched (with a warning).
"""

from __future__ import annotations

import logging
from typing import Any

import kafka

logger = logging.getLogger(__name__)

_applied = False


def close_failed_connects() -> None:
    """Make a failed connect close its socket (idempotent)."""
    global _applied
    if _applied:
        return
    _applied = True
    try:
        from kafka.net.inet import KafkaNetSocket
    except ImportError:
        KafkaNetSocket = None
    if not kafka.__version__.startswith("3.0.") or KafkaNetSocket is None:
        logger.warning("kafka-python %s: failed-connect socket fix not applied", kafka.__version__)
        return
    original = KafkaNetSocket.sock_connect

    async def sock_connect(
        self: Any, net: Any, sock: Any, sockaddr: Any, timeout_at: float | None = None
    ) -> Any:
        try:
            return await original(self, net, sock, sockaddr, timeout_at=timeout_at)
        except BaseException:
            # Refused, timed out, or the connecting task cancelled: nobody else holds it.
            sock.close()
            raise

    KafkaNetSocket.sock_connect = sock_connect
