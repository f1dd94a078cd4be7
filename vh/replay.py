"""`vh replay`: re-publish dead letters to their source topic after a fix.

Reads the DLQ topic with its own consumer group (``<VH_KAFKA_GROUP>-replay``), so each dead
letter is replayed once however often the command runs; it stops at the end offsets seen at
start, so letters that fail again (and land back in the DLQ) are not replayed in a loop.
Offsets are committed only after the producer has flushed what was re-published: an
interrupted replay resumes where it stopped, at worst re-publishing a few (deduplicated by
``requestId`` downstream). The original key and value are sent unchanged, plus a
``vh-replayed-from`` header naming the DLQ record. Skipped, and committed past: letters whose
value was cut to fit the DLQ topic (``vh-dlq-truncated``: the original is gone, so it cannot
be replayed; fix it at its source).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from ingest.config import IngestConfig
from ingest.dlq import parse_headers
from ingest.kafka_clients import KafkaConsumer, TopicPartition, commit_offsets, make_producer
from vh.commands import Subparsers, command
from vh.progress import Progress

logger = logging.getLogger(__name__)
_CHUNK = 1000


def _consumer(config: IngestConfig) -> Any:
    return KafkaConsumer(
        bootstrap_servers=config.kafka_bootstrap,
        group_id=f"{config.group}-replay",
        client_id="vh-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


def replay(
    config: IngestConfig,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> int:
    """Re-publish up to ``limit`` dead letters (all of them when None); return how many.

    Records without this project's headers count toward ``limit`` but are skipped (logged)
    and committed past. ``progress(done, total)`` is called after each poll.
    Raises:
        kafka.errors.KafkaError: the broker is unreachable.
    """
    consumer = _consumer(config)
    producer = make_producer(config, client_id="vh-replay")
    try:
        parts = consumer.partitions_for_topic(config.dlq_topic) or set()
        tps = [TopicPartition(config.dlq_topic, p) for p in sorted(parts)]
        if not tps:
            return 0
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = {tp: consumer.position(tp) for tp in tps}
        total = sum(max(ends[tp] - starts[tp], 0) for tp in tps)
        total = min(total, limit) if limit is not None else total
        done = replayed = 0
        pending: dict[tuple[str, int], int] = {}
        remaining = {tp for tp in tps if starts[tp] < ends[tp]}
        while remaining and done < total:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset >= ends[tp] or done >= total:
                        break
                    replayed += _republish(producer, record)
                    done += 1
                    pending[(tp.topic, tp.partition)] = record.offset + 1
                if pending and (done % _CHUNK == 0 or done >= total):
                    producer.flush()
                    commit_offsets(consumer, pending)
                    pending = {}
                progress(done, total)
            # Positions, not records seen: robust to offsets that carry no record.
            remaining = {tp for tp in remaining if consumer.position(tp) < ends[tp]}
        producer.flush()
        if pending:
            commit_offsets(consumer, pending)
        logger.info("replay done", extra={"handled": done, "replayed": replayed})
        return replayed
    finally:
        producer.close()
        consumer.close(autocommit=False)


def _republish(producer: Any, record: Any) -> bool:
    coordinates = f"{record.topic}:{record.partition}:{record.offset}".encode()
    try:
        info = parse_headers(record.headers or [])
    except ValueError as exc:
        logger.warning(
            "skipping DLQ record without dead-letter headers",
            extra={"partition": record.partition, "offset": record.offset, "error": str(exc)},
        )
        return False
    if info.truncated_from is not None:
        logger.warning(
            "skipping a truncated dead letter: its original value is gone",
            extra={
                "partition": record.partition,
                "offset": record.offset,
                "original_bytes": info.truncated_from,
                "source": str(info.source),
            },
        )
        return False
    producer.send(
        info.source.topic,
        key=record.key,
        value=record.value,
        headers=[("vh-replayed-from", coordinates)],
    )
    return True


# -- `vh replay` -----------------------------------------------------------------------------------


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "replay",
        run,
        "re-publish dead letters to their source topic",
        "Re-publish VH_KAFKA_DLQ_TOPIC records (once each) to the topic they came from, "
        "after a fix.",
    )
    parser.add_argument("--limit", type=int, default=None, help="at most N records")


def run(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    bar = Progress("dead letters replayed", None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    replayed = replay(config, limit=args.limit, progress=progress)
    bar.close()
    logger.info("replay finished", extra={"replayed": replayed, "from": config.dlq_topic})
    return 0
