-- PATCH /v4/events/{event_id}: what an update changed, apart from the visit it changes, so a
-- replay or redelivery of the original Kafka message (which rewrites the visit row) can never
-- undo it. Each row holds the event's whole override state after that update (NULL: not
-- overridden, the visit's own value shows); readers take argMax(..., version) per event, so
-- the answer never depends on merges. Erasures delete the updates with the visits.
CREATE TABLE IF NOT EXISTS {db}.event_updates
(
    tenant        {lc_string},
    visitor_id    String,
    request_id    String,
    timestamp_ms  UInt64           COMMENT 'the event time: erasures delete updates up to theirs',
    linked_id     Nullable(String) COMMENT 'NULL: the visit own linked_id',
    tags          Nullable(String) COMMENT 'JSON object text, NULL: the visit own tag',
    suspect       Nullable(UInt8)  COMMENT 'NULL: never set',
    version       UInt64           COMMENT 'epoch ms of the update (at least the previous + 1), highest wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, visitor_id, request_id)
