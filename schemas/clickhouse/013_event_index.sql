-- The orderings GET /v4/events searches by, kept by ClickHouse itself (like request_index for
-- GET /events). Each visit gives one row per access path (`access`):
--   t  key ''                     a time window of the whole tenant
--   v  key visitor_id             one visitor
--   l  key linked_id              one linked id (only visits that have one; PATCH adds a row)
--   i  key hex of the IPv6 form   an address or a CIDR range (a key range); IPv4 as ::ffff:a.b.c.d
--   u  key url                    one URL
-- so every search reads the rows of its own key and window in time order, never the tenant's
-- history. The other filters (origin, asn, bot, incognito) are columns of each row, tested in
-- the same read. The worker computes ip_key (schemas.visit.ip_key): SQL's IP functions differ
-- between 18.16 (invalid text gives zeros, IPv4 text is not mapped) and current servers (they
-- throw, failing the whole insert), so the view only copies it.
-- Visits stored before this migration are indexed by 015 (all paths but IP: ip_key is the
-- worker's, old rows have none).
CREATE TABLE IF NOT EXISTS {db}.event_index
(
    tenant        {lc_string},
    access        {lc_string}    COMMENT 't time, v visitor_id, l linked_id, i ip, u url',
    key           String         COMMENT 'the searched value of that access path',
    timestamp_ms  UInt64,
    request_id    String,
    visitor_id    String,
    linked_id     Nullable(String) COMMENT 'as collected (a PATCH is in event_updates)',
    ip_key        String         COMMENT '32 hex digits of the address as IPv6',
    url           String,
    origin        String,
    asn           UInt32,
    bot           {lc_string},
    incognito     UInt8
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(timestamp_ms, 1000)))
ORDER BY (tenant, access, key, timestamp_ms, request_id)
SETTINGS index_granularity = 2048;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_index_mv TO {db}.event_index AS
SELECT
    tenant,
    path.1 AS access,
    path.2 AS key,
    timestamp_ms,
    request_id,
    visitor_id,
    linked_id,
    ip_key,
    url,
    origin,
    asn,
    bot,
    incognito
FROM {db}.visits
ARRAY JOIN [
    ('t', ''),
    ('v', visitor_id),
    ('l', ifNull(linked_id, '')),
    ('i', ip_key),
    ('u', url)
] AS path
WHERE (path.1 != 'l' OR linked_id IS NOT NULL) AND (path.1 != 'i' OR ip_key != '')
