"""Which URLs an endpoint may have, and which addresses we POST to: pure.

Server-side request forgery: an endpoint URL is chosen by a tenant, and this process sits
inside our network. So only ``http``/``https`` URLs, and by default no loopback,
link-local, private, shared, multicast or otherwise reserved address (literal or resolved,
checked before each connection: see ``webhooks.http``), unless ``VH_WEBHOOKS_ALLOW_PRIVATE``
allows them (tests and local demos post to loopback). Redirects are never followed (a
public URL cannot bounce us inward).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from webhooks.errors import TargetRefused


def shown(url: str) -> str:
    """``url`` safe to log: no user info, query or fragment (they may carry credentials)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable url>"
    return urlunsplit((parts.scheme, f"{host}{port}", parts.path, "", ""))


def check_url(url: str) -> str:
    """The URL's host, when the URL may be an endpoint (http or https, a host).

    Raises:
        TargetRefused: it may not.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        raise TargetRefused(shown(url), f"not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(shown(url), "only http and https URLs")
    if not host:
        raise TargetRefused(shown(url), "no host")
    return host


def private_address(address: str) -> bool:
    """Whether ``address`` (an IP literal) is not a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_addresses(url: str, addresses: list[str], allow_private: bool) -> None:
    """Refuse ``url`` when any address its host resolved to is private (unless allowed).

    Raises:
        TargetRefused: a private address, or none at all.
    """
    if not addresses:
        raise TargetRefused(shown(url), "its host resolves to no address")
    if allow_private:
        return
    for address in addresses:
        if private_address(address):
            raise TargetRefused(
                shown(url),
                f"{address} is not a public address (VH_WEBHOOKS_ALLOW_PRIVATE=on allows it)",
            )
