"""The ``fpjs-event-signature`` header, as Fingerprint signs webhooks: pure.

``v1=<hex HMAC-SHA256(secret, body)>``; during a secret rotation one signature per secret,
comma-separated without spaces (the official SDKs split on ``,`` and accept the body when
any ``v1`` signature matches the secret they hold). The body is signed byte for byte as
sent: a receiver must verify the raw body before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Final

HEADER: Final = "fpjs-event-signature"


def sign(secret: str, body: bytes) -> str:
    """One ``v1=<hex>`` signature of ``body`` under ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signature_header(secrets: Sequence[str], body: bytes) -> str:
    """The header value: a signature per secret (newest first), comma-separated.

    Raises:
        ValueError: no secret.
    """
    if not secrets:
        raise ValueError("a webhook needs at least one secret to be signed with")
    return ",".join(sign(s, body) for s in secrets)
