"""``vh webhooks run|add|list|remove|rotate-secret|replay``: signed webhooks (docs/webhooks.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading

from vh.commands import Subparsers, command
from webhooks import deadletters, endpoints
from webhooks.config import WebhooksConfig
from webhooks.errors import ConfigError
from webhooks.http import Poster
from webhooks.metrics import Metrics, NoMetrics, PrometheusMetrics
from webhooks.process import open_process, open_store, wall_ms
from webhooks.replay import replay
from webhooks.targets import shown

logger = logging.getLogger(__name__)


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "webhooks",
        run,
        "POST stored events to the tenants' endpoints (run), manage the endpoints",
        "`run` reads VH_KAFKA_ENRICHED_TOPIC in its own consumer group and POSTs each event, "
        "signed (fpjs-event-signature), to every endpoint of its tenant, at least once; the "
        "other actions manage the endpoints in VH_CLICKHOUSE_DATABASE (the running process "
        "sees changes within VH_WEBHOOKS_REFRESH_SECONDS).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("run", help="deliver until SIGTERM")
    add = actions.add_parser("add", help="register an endpoint; prints its secret once")
    listing = actions.add_parser("list", help="list endpoints (never their secrets)")
    remove = actions.add_parser("remove", help="remove an endpoint (by --url or --id)")
    rotate = actions.add_parser(
        "rotate-secret", help="new secret; the old one signs too for a while"
    )
    again = actions.add_parser("replay", help="deliver dead letters again (one attempt each)")
    for p in (add, listing, remove, rotate, again):
        p.add_argument("--tenant", required=True, help="workspaceId")
    add.add_argument("--url", required=True, help="http(s) URL to POST events to")
    for p in (remove, rotate, again):
        p.add_argument("--url", help="the endpoint's URL")
        p.add_argument("--id", dest="endpoint_id", help="the endpoint's id")


def run(args: argparse.Namespace) -> int:
    config = WebhooksConfig.from_env(args.environ)
    if args.action == "run":
        return _serve(config)
    with open_store(config) as store:
        layout, now = config.clickhouse.layout, wall_ms()
        if args.action == "add":
            known = endpoints.find(store.execute, layout, args.tenant, None, args.url)
            if known:  # a second registration would receive every event twice
                print(f"already registered as {known[0][0].endpoint_id}", file=sys.stderr)
                return 1
            made = endpoints.add(store.execute, layout, args.tenant, args.url, now)
            print(f"endpoint_id: {made.endpoint_id}\ntenant:      {made.tenant}")
            print(f"url:         {made.url}\nsecret:      {made.secret}")
            print("The secret is shown only now; give it to the receiver.", file=sys.stderr)
            return 0
        if args.action == "list":
            print("endpoint_id\ttenant\turl\trotated_at_ms")
            for e, _ in endpoints.find(store.execute, layout, args.tenant, None, None):
                print(f"{e.endpoint_id}\t{e.tenant}\t{shown(e.url)}\t{e.rotated_at_ms}")
            return 0
        found = endpoints.find(store.execute, layout, args.tenant, args.endpoint_id, args.url)
        if args.action == "replay":
            return _replay(config, store.execute, {e.endpoint_id: e for e, _ in found}, args)
        if not found or (args.endpoint_id is None and args.url is None):
            print("no such endpoint (give --url or --id)", file=sys.stderr)
            return 1
        if args.action == "remove":
            endpoints.remove(store.execute, layout, found, now)
            print(f"removed {', '.join(e.endpoint_id for e, _ in found)}")
            return 0
        for one in found:
            rotated = endpoints.rotate(store.execute, layout, one, now)
            grace = config.rotation_grace_seconds
            print(f"endpoint_id: {rotated.endpoint_id}\nsecret:      {rotated.secret}")
            print(
                f"The old secret also signs for {grace:g} s; move the receiver to the new one.",
                file=sys.stderr,
            )
        return 0


def _replay(
    config: WebhooksConfig,
    execute: endpoints.Execute,
    known: dict[str, endpoints.Endpoint],
    args: argparse.Namespace,
) -> int:
    layout = config.clickhouse.layout
    letters = deadletters.pending(execute, layout, args.tenant, args.endpoint_id)
    if args.url is not None:
        letters = [x for x in letters if x.endpoint_id in known]

    async def go() -> int:
        poster = Poster(config.timeout_seconds, config.response_max_bytes, config.allow_private)
        try:
            report = await replay(
                execute, layout, poster, known, letters,
                grace_ms=int(config.rotation_grace_seconds * 1000), wall_ms=wall_ms,
            )  # fmt: skip
        finally:
            await poster.aclose()
        print(f"replayed {report.delivered} of {len(letters)} dead letters")
        if report.skipped:
            print(f"{report.skipped} skipped: their endpoint was removed", file=sys.stderr)
        for letter, why in report.failed[:20]:
            print(f"not delivered: {letter.endpoint_id} {letter.event_id}: {why}", file=sys.stderr)
        return 1 if report.failed else 0

    return asyncio.run(go())


def _serve(config: WebhooksConfig) -> int:
    metrics: Metrics = NoMetrics()
    if config.metrics_port:
        prometheus = PrometheusMetrics()
        try:
            prometheus.serve(config.metrics_port)
        except OSError as exc:
            raise ConfigError(
                "VH_WEBHOOKS_METRICS_PORT", str(config.metrics_port), str(exc)
            ) from exc
        metrics = prometheus
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signo, _frame: stop.set())
    with open_process(config, metrics) as process:
        return process(stop)
