-- One row per visit, ordered the way the API reads it: a tenant's visitor, by time.
-- ReplacingMergeTree collapses a requestId delivered twice (same sorting key) at merge time;
-- readers also dedup at query time (LIMIT 1 BY request_id), so duplicates never show.
CREATE TABLE IF NOT EXISTS {db}.visits
(
    tenant                  {lc_string}          COMMENT 'workspace the event belongs to (API token tenant)',
    visitor_id              String               COMMENT 'FingerprintJS visitorId',
    timestamp_ms            UInt64 {codec_delta} COMMENT 'visit time, epoch milliseconds (API: timestamp)',
    request_id              String               COMMENT 'FingerprintJS requestId, unique per visit',
    time                    {time_type}          COMMENT 'visit time as a date-time, UTC (API: time)',
    url                     String,
    ip                      String               COMMENT 'client address as collected, IPv4 or IPv6 text',
    incognito               UInt8,
    linked_id               Nullable(String)     COMMENT 'linkedId set by the application, NULL when none',
    tag                     String               COMMENT 'tag object as JSON text, {} when none',
    bot_probability         Float32              COMMENT 'collector value, else 1 for known bot user agents',
    browser_name            {lc_string},
    browser_major_version   {lc_string},
    browser_full_version    {lc_string},
    os                      {lc_string},
    os_version              {lc_string},
    device                  {lc_string},
    user_agent              String,
    has_location            UInt8                COMMENT '0 when the GeoIP database knows nothing of the ip',
    accuracy_radius         Nullable(UInt32)     COMMENT 'km',
    latitude                Nullable(Float64),
    longitude               Nullable(Float64),
    postal_code             {lc_nullable_string},
    timezone                {lc_nullable_string},
    city_name               {lc_nullable_string},
    continent_code          {lc_nullable_string},
    continent_name          {lc_nullable_string},
    country_code            {lc_nullable_string},
    country_name            {lc_nullable_string},
    subdivision_iso_codes   Array(String)        COMMENT 'parallel to subdivision_names, largest first',
    subdivision_names       Array(String),
    ingested_at             DateTime             COMMENT 'when the worker wrote the row (lineage)',
    kafka_topic             {lc_string},
    kafka_partition         UInt32,
    kafka_offset            UInt64
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (tenant, visitor_id, timestamp_ms, request_id)
SETTINGS index_granularity = 2048
