-- First seen, last seen and visit count per visitor, kept by ClickHouse itself.
-- The API answers 404 (never seen) versus 200 with [] (nothing in the window) from these
-- tables without scanning history. `uniq` rather than count: a requestId delivered twice
-- must not count twice.
CREATE TABLE IF NOT EXISTS {db}.visitor_summary
(
    tenant       {lc_string},
    visitor_id   String,
    first_seen   AggregateFunction(min, UInt64) COMMENT 'epoch ms',
    last_seen    AggregateFunction(max, UInt64) COMMENT 'epoch ms',
    visits       AggregateFunction(uniq, String) COMMENT 'distinct requestIds'
)
ENGINE = AggregatingMergeTree()
ORDER BY (tenant, visitor_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_summary_mv TO {db}.visitor_summary AS
SELECT
    tenant,
    visitor_id,
    minState(timestamp_ms) AS first_seen,
    maxState(timestamp_ms) AS last_seen,
    uniqState(request_id) AS visits
FROM {db}.visits
GROUP BY tenant, visitor_id;

-- The same across tenants: the Server API's firstSeenAt.global / lastSeenAt.global.
CREATE TABLE IF NOT EXISTS {db}.visitor_summary_global
(
    visitor_id   String,
    first_seen   AggregateFunction(min, UInt64),
    last_seen    AggregateFunction(max, UInt64)
)
ENGINE = AggregatingMergeTree()
ORDER BY visitor_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visitor_summary_global_mv TO {db}.visitor_summary_global AS
SELECT
    visitor_id,
    minState(timestamp_ms) AS first_seen,
    maxState(timestamp_ms) AS last_seen
FROM {db}.visits
GROUP BY visitor_id
