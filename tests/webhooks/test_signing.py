"""Our signatures, checked by the official v4 SDK's validator (fingerprint-server-sdk)."""

from __future__ import annotations

import hashlib
import hmac

from fingerprint_server_sdk.webhook_validation import WebhookValidation

from webhooks.endpoints import Endpoint
from webhooks.signing import sign, signature_header

BODY = b'{"event_id":"1708102555327.NLOjmg","timestamp":1708102555327}'


def test_a_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    expected = hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()
    assert sign("secret", BODY) == f"v1={expected}"


def test_the_official_sdk_accepts_our_signature_and_refuses_a_changed_body() -> None:
    header = signature_header(["s3cr3t"], BODY)
    assert WebhookValidation.is_valid_webhook_signature(header, BODY, "s3cr3t")
    assert not WebhookValidation.is_valid_webhook_signature(header, BODY + b" ", "s3cr3t")
    assert not WebhookValidation.is_valid_webhook_signature(header, BODY, "other")


def test_during_a_rotation_both_secrets_validate_then_only_the_new_one() -> None:
    endpoint = Endpoint("wh_1", "acme", "https://x.example/", "new", "old", rotated_at_ms=1_000)
    during = signature_header(endpoint.signing_secrets(now_ms=2_000, grace_ms=5_000), BODY)
    assert during.count("v1=") == 2 and " " not in during
    for secret in ("new", "old"):
        assert WebhookValidation.is_valid_webhook_signature(during, BODY, secret)
    after = signature_header(endpoint.signing_secrets(now_ms=6_000, grace_ms=5_000), BODY)
    assert WebhookValidation.is_valid_webhook_signature(after, BODY, "new")
    assert not WebhookValidation.is_valid_webhook_signature(after, BODY, "old")
