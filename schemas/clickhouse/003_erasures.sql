-- Erasure requests (DELETE /visitors/{id}). A visit of (tenant, visitor_id) whose timestamp_ms
-- is at or before erased_at_ms is erased: the API filters it out at once, ALTER DELETE removes
-- stored rows in the background, and the ingest worker drops such visits if old Kafka messages
-- are replayed. Visits after the erasure (the visitor came back) are kept.
CREATE TABLE IF NOT EXISTS {db}.erasures
(
    tenant        {lc_string},
    visitor_id    String,
    erased_at_ms  UInt64   COMMENT 'visits at or before this epoch-ms instant are erased',
    requested_at  DateTime COMMENT 'when the erasure was requested'
)
ENGINE = ReplacingMergeTree(erased_at_ms)
ORDER BY (tenant, visitor_id)
