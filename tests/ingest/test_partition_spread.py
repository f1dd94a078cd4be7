"""A batch whose visits span many months is accepted by current ClickHouse.

The writer raises `max_partitions_per_insert_block` on servers that have it; this proves on
the current engine (chdb) that the default would refuse such a batch and ours accepts it.
"""

from __future__ import annotations

import uuid

import pytest

from ingest.writer import MAX_PARTITIONS_PER_INSERT
from schemas.clickhouse import migrations
from tests.support.services import ChdbSession

# 2000-01 to 2026-12: every month a timestamp may fall in, one visit each.
_INSERT = """
INSERT INTO {db}.visits (tenant, visitor_id, timestamp_ms, request_id, time, url, ip, incognito,
    tag, bot_probability, browser_name, browser_major_version, browser_full_version, os,
    os_version, device, user_agent, has_location, subdivision_iso_codes, subdivision_names,
    ingested_at, kafka_topic, kafka_partition, kafka_offset)
SELECT 't', 'v', toUInt64(toUnixTimestamp(addMonths(toDateTime('2000-01-15 00:00:00', 'UTC'),
    number))) * 1000, toString(number), addMonths(toDateTime('2000-01-15 00:00:00', 'UTC'),
    number), '', '', 0, '{{}}', 0, '', '', '', '', '', '', '', 0, [], [], now(), 'raw', 0, number
FROM numbers(324)
"""


def test_a_batch_over_27_years_of_months_is_accepted(chdb_session: ChdbSession) -> None:
    db = f"spread_{uuid.uuid4().hex[:8]}"
    migrations.apply(chdb_session.execute, db, log=lambda _m: None)
    with pytest.raises(Exception, match="partitions"):
        chdb_session.execute(_INSERT.format(db=db))
    chdb_session.execute(
        _INSERT.format(db=db)
        + f" SETTINGS max_partitions_per_insert_block = {MAX_PARTITIONS_PER_INSERT}"
    )
    assert chdb_session.execute(f"SELECT count(), uniqExact(_partition_id) FROM {db}.visits") == [
        (324, 324)
    ]
    chdb_session.execute(f"DROP DATABASE {db}")
