"""The only door to HTTP (the only httpx import): one POST of one signed event.

- Redirects are never followed (a 3xx is a failed attempt): a public URL must not bounce
  us to an internal one.
- Each attempt is bounded by ``timeout_s`` as a whole (connect, send, wait, read): a hanging
  endpoint costs one lane of its own for that long, never anyone else's time.
- The response body is read up to ``max_response_bytes`` and dropped: a receiver cannot
  make us hold a large answer.
- Before connecting, the host is resolved and every address checked
  (``targets.check_addresses``); answers are kept :data:`DNS_TTL_S` (a lookup per attempt
  halved a lane's deliveries/s), literal addresses are not looked up. httpx resolves again
  when it connects; a DNS answer that changes between the two (rebinding) is not caught
  here: deployments that need that guarantee put an egress proxy in front.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

from webhooks.errors import TargetRefused
from webhooks.targets import check_addresses, check_url

#: How long a host's resolved addresses are reused for the private-address check.
DNS_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to: a status (None: no response), the error, how long it took."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def reason(self) -> str:
        if self.error is not None:
            return self.error
        if self.status is not None and 300 <= self.status < 400:
            return f"HTTP {self.status} (redirects are not followed)"
        return f"HTTP {self.status}"


class Poster:
    """POSTs bodies with one shared connection pool. Use from one event loop; close it.

    Args:
        timeout_s: the whole attempt's time limit.
        max_response_bytes: how much of a response body is read.
        allow_private: loopback and private addresses allowed (tests, demos).
    """

    def __init__(self, timeout_s: float, max_response_bytes: int, allow_private: bool) -> None:
        self.timeout_s, self.max_response_bytes = timeout_s, max_response_bytes
        self.allow_private = allow_private
        self._resolved: dict[str, tuple[float, list[str]]] = {}
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
            trust_env=False,  # no proxy or .netrc credentials picked up from the environment
        )

    async def _addresses(self, host: str) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        now = time.monotonic()
        cached = self._resolved.get(host)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        addresses = sorted({str(info[4][0]) for info in found})
        self._resolved[host] = (now + DNS_TTL_S, addresses)
        return addresses

    async def _check(self, url: str) -> None:
        host = check_url(url)
        check_addresses(url, await self._addresses(host), self.allow_private)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        """One attempt; never raises for what the network or the endpoint did.

        Raises:
            TargetRefused: the URL or its addresses may not be posted to (no retry helps).
        """
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout_s):
                try:
                    await self._check(url)
                except OSError as exc:
                    return Attempt(None, f"DNS: {exc}", time.monotonic() - started)
                async with self._client.stream("POST", url, content=body, headers=headers) as r:
                    read = 0
                    async for chunk in r.aiter_raw():
                        read += len(chunk)
                        if read >= self.max_response_bytes:
                            break
                    return Attempt(r.status_code, None, time.monotonic() - started)
        except TargetRefused:
            raise
        except TimeoutError:
            return Attempt(
                None, f"timed out after {self.timeout_s:g} s", time.monotonic() - started
            )
        except httpx.HTTPError as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}", time.monotonic() - started)

    async def aclose(self) -> None:
        await self._client.aclose()
