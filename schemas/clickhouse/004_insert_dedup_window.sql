-- requires: insert_dedup_token
-- Remember the last 1000 insert blocks of `visits` so that a batch retried with the same
-- `insert_deduplication_token` (the worker's `topic-partition-first-last` offsets) is dropped
-- instead of stored twice. Plain MergeTree keeps no such window unless told (default 0), and
-- 18.16 has neither the setting nor the token: there, ReplacingMergeTree and the readers'
-- `LIMIT 1 BY request_id` are the guarantee (docs/ingest.md), and this migration stays
-- pending (unrecorded) until `vh migrate` runs against an upgraded server.
ALTER TABLE {db}.visits MODIFY SETTING non_replicated_deduplication_window = 1000
