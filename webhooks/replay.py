"""``vh webhooks replay``: dead letters delivered again, one attempt each, oldest first.

Each letter is POSTed with its stored body, signed with the endpoint's current secrets; a
2xx marks it replayed, anything else leaves it for a later replay. Letters of an endpoint
removed since are skipped (reported). One attempt each, sequentially: an operator runs
replay once the endpoint is fixed, and sees at once whether it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from schemas.clickhouse.layout import Layout
from webhooks import deadletters
from webhooks.deadletters import DeadLetter, Execute
from webhooks.dispatch import headers_for
from webhooks.endpoints import Endpoint
from webhooks.errors import TargetRefused
from webhooks.http import Poster


@dataclass(slots=True)
class ReplayReport:
    delivered: int = 0
    skipped: int = 0  # endpoint removed
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)


async def replay(
    execute: Execute,
    layout: Layout,
    poster: Poster,
    endpoints: dict[str, Endpoint],
    letters: list[DeadLetter],
    *,
    grace_ms: int,
    wall_ms: Callable[[], int],
) -> ReplayReport:
    """Deliver ``letters`` (``deadletters.pending``) once each; mark the delivered ones."""
    report = ReplayReport()
    for letter in letters:
        endpoint = endpoints.get(letter.endpoint_id)
        if endpoint is None:
            report.skipped += 1
            continue
        secrets = endpoint.signing_secrets(wall_ms(), grace_ms)
        try:
            attempt = await poster.post(
                endpoint.url,
                letter.body,
                headers_for(endpoint, letter.body, letter.event_id, secrets),
            )
        except TargetRefused as exc:
            report.failed.append((letter, f"target refused: {exc.reason}"))
            continue
        if not attempt.delivered:
            report.failed.append((letter, attempt.reason))
            continue
        # Marked one by one: a replay interrupted midway does not deliver these again.
        deadletters.mark_replayed(execute, layout, [letter], wall_ms())
        report.delivered += 1
    return report
