"""`make run`'s demo receiver accepts what `vh webhooks run` signs and refuses the rest."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from vh import demo_receiver
from webhooks.signing import HEADER, signature_header

BODY = json.dumps(
    {"event_id": "e1", "identification": {"visitor_id": "v1"}, "url": "https://x.example/"}
).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_signed_events_are_accepted_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    server = demo_receiver.start(port, "sek")
    try:
        url = f"http://127.0.0.1:{port}/demo-webhook"
        ok = httpx.post(url, content=BODY, headers={HEADER: signature_header(["new", "sek"], BODY)})
        bad = httpx.post(url, content=BODY, headers={HEADER: signature_header(["other"], BODY)})
    finally:
        server.shutdown()
        server.server_close()
    assert (ok.status_code, bad.status_code) == (200, 403)
    out = capsys.readouterr().out
    assert "signature ok: event e1 of visitor v1" in out
    assert "signature BAD" in out
