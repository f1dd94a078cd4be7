-- requestId -> (visitor, time) per tenant, for GET /events/{request_id}. The visits table is
-- ordered by visitor, so a requestId alone would scan the tenant; this small table, kept by
-- ClickHouse itself, turns it into two primary-key lookups. Existing deployments backfill once:
-- INSERT INTO request_index SELECT tenant, request_id, visitor_id, timestamp_ms FROM visits
CREATE TABLE IF NOT EXISTS {db}.request_index
(
    tenant        {lc_string},
    request_id    String,
    visitor_id    String,
    timestamp_ms  UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, request_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.request_index_mv TO {db}.request_index AS
SELECT tenant, request_id, visitor_id, timestamp_ms
FROM {db}.visits
