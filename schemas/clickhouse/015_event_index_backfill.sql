-- The visits stored before 013 into event_index, once, so v4's searches by time, visitor,
-- linked id and URL find them too (the view only sees new inserts). Visits the view indexed
-- already come out with the same sorting key, which ReplacingMergeTree collapses and every
-- read deduplicates (LIMIT 1 BY request_id). Their IP path needs ip_key, which the worker
-- computes: old visits have none (docs/api.md says how to fill it). On a big table this runs
-- as long as reading visits once takes; on a new database it reads nothing.
INSERT INTO {db}.event_index (tenant, access, key, timestamp_ms, request_id, visitor_id,
    linked_id, ip_key, url, origin, asn, bot, incognito)
SELECT
    tenant, path.1, path.2, timestamp_ms, request_id, visitor_id, linked_id, ip_key, url,
    origin, asn, bot, incognito
FROM {db}.visits
ARRAY JOIN [('t', ''), ('v', visitor_id), ('l', ifNull(linked_id, '')), ('u', url)] AS path
WHERE path.1 != 'l' OR linked_id IS NOT NULL
