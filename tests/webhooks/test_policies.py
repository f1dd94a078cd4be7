"""The pure policies: retry schedule, lanes, targets, offsets."""

from __future__ import annotations

import pytest

from webhooks.dispatch import lane_of, reason_kind
from webhooks.errors import TargetRefused
from webhooks.offsets import OffsetTracker
from webhooks.schedule import RetrySchedule
from webhooks.targets import check_addresses, check_url, private_address, shown

P = ("visits.enriched", 0)


def test_the_delay_cap_doubles_up_to_the_maximum_and_jitter_stays_below_it() -> None:
    schedule = RetrySchedule(1.0, 60.0, 3600.0)
    assert [schedule.cap(n) for n in (1, 2, 3, 7, 8, 20)] == [1, 2, 4, 60, 60, 60]
    assert schedule.next_delay(3, 0.0, lambda: 0.5) == 2.0
    assert schedule.next_delay(3, 0.0, lambda: 0.0) == 0.0


def test_no_retry_would_start_past_the_retry_window() -> None:
    schedule = RetrySchedule(1.0, 60.0, 100.0)
    assert schedule.next_delay(10, 39.0, lambda: 0.99) is not None  # 39 + 59.4 < 100
    assert schedule.next_delay(10, 41.0, lambda: 0.99) is None


def test_a_visitor_always_takes_the_same_lane() -> None:
    lanes = {lane_of(f"v{i}", 4) for i in range(100)}
    assert lanes == {0, 1, 2, 3}
    assert lane_of("visitor-1", 4) == lane_of("visitor-1", 4)


def test_reasons_become_few_labels() -> None:
    assert [reason_kind(r) for r in ("queue_full", "HTTP 503", "timed out after 10 s",
                                      "target refused: x", "ConnectError: refused")] == [
        "queue_full", "http_503", "timeout", "target_refused", "network",
    ]  # fmt: skip


@pytest.mark.parametrize("url", ["ftp://x.example/", "file:///etc/passwd", "https://", "x"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_url(url)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "::1", "fc00::1",
     "fe80::1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_private_and_special_addresses_are_refused_unless_allowed(address: str) -> None:
    assert private_address(address)
    with pytest.raises(TargetRefused, match="VH_WEBHOOKS_ALLOW_PRIVATE"):
        check_addresses("http://h.example/", [address], allow_private=False)
    check_addresses("http://h.example/", [address], allow_private=True)


def test_public_addresses_pass() -> None:
    check_addresses("https://h.example/", ["93.184.216.34", "2606:2800:220:1::1"], False)


def test_urls_are_logged_without_credentials_or_query() -> None:
    assert shown("https://user:pw@h.example:8443/hook?token=abc#x") == "https://h.example:8443/hook"


def test_offsets_commit_up_to_the_oldest_event_not_settled() -> None:
    tracker = OffsetTracker()
    tracker.add(P, 10, 2)
    tracker.add(P, 11, 0)  # a tenant without endpoints: settled at once
    tracker.add(P, 12, 1)
    assert tracker.committable() == {P: 10}
    tracker.done(P, 10)
    assert tracker.committable() == {P: 10}  # one endpoint of two
    tracker.done(P, 12)
    assert tracker.committable() == {P: 10}
    tracker.done(P, 10)
    assert tracker.committable() == {P: 13}
    assert tracker.outstanding() == 0


def test_a_revoked_partition_is_forgotten_and_late_settlements_ignored() -> None:
    tracker = OffsetTracker()
    tracker.add(P, 5, 1)
    tracker.forget(P)
    tracker.done(P, 5)
    assert tracker.committable() == {}


def test_http_request_lines_with_whole_urls_stay_out_of_the_logs() -> None:
    """httpx logs each request's URL (credentials and query included) at INFO; the commands'
    logging keeps it to warnings, so only our redacted URLs are logged."""
    import logging

    from ingest import logs

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert logging.getLogger("webhooks.dispatch").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:], root.level = handlers, level
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger("httpcore").setLevel(logging.NOTSET)
