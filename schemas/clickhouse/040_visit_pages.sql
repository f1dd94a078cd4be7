-- The read path of a visitor's page (issue 15): each visit once more, as the API reads it,
-- kept by ClickHouse from visits like request_index and event_index. A page of visits.visits
-- costs one column file per column read per part touched (docs/benchmarks.md: about 0.25 ms
-- each, 28 columns); here the page reads the sort key and `body`, one String holding every
-- field the v3 and v4 renderers need, so a page opens 3 column files instead of 28. Small
-- granules (256 rows) because a page is a few rows of one visitor: the granule read is what
-- is decompressed. Analysts keep the typed columns of visits; this table is for the API.
-- `body` is the fields of query_api.page_rows.BODY_FIELDS joined by TAB, in that order,
-- each text escaped (backslash as \\, TAB as \t, 0x1F as \u), NULL as \N, numbers as
-- toString (Float32 widened to Float64 first: its exact value, as the driver returns it),
-- arrays as each element preceded by 0x1F. tests/query_api/test_page_rows.py holds the
-- decoder to the typed columns on 18.16 and on the current engine, hostile text included.
-- Partitioned by month like visits, so retention (TTL, or partition drops on 18.16) treats
-- it as visits; erasure deletes from it like from visits (statements.delete_erased).
CREATE TABLE IF NOT EXISTS {db}.visit_pages
(
    tenant        {lc_string}          COMMENT 'as visits.tenant',
    visitor_id    String               COMMENT 'as visits.visitor_id',
    timestamp_ms  UInt64 {codec_delta} COMMENT 'as visits.timestamp_ms (epoch ms)',
    request_id    String               COMMENT 'as visits.request_id',
    time          {time_type}          COMMENT 'as visits.time (the partition key)',
    body          String               COMMENT 'the other fields of the visit, for the API, TAB-separated and escaped (see 040_visit_pages.sql), analysts read visits instead',
    ingested_at   DateTime             COMMENT 'as visits.ingested_at: the newest copy wins on merge'
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (tenant, visitor_id, timestamp_ms, request_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.visit_pages_mv TO {db}.visit_pages AS
SELECT tenant, visitor_id, timestamp_ms, request_id, time, concat(
            replaceAll(replaceAll(replaceAll(url, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(ip, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(incognito),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(linked_id, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', replaceAll(replaceAll(replaceAll(tag, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(toFloat64(bot_probability)),
            '\t', replaceAll(replaceAll(replaceAll(browser_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(browser_major_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(browser_full_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(os, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(os_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(device, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(user_agent, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(has_location),
            '\t', ifNull(toString(accuracy_radius), '\\N'),
            '\t', ifNull(toString(latitude), '\\N'),
            '\t', ifNull(toString(longitude), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(postal_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(timezone, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(city_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(continent_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(continent_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(country_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(country_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', arrayStringConcat(arrayMap(e -> concat('\x1F', replaceAll(replaceAll(replaceAll(e, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')), subdivision_iso_codes)),
            '\t', arrayStringConcat(arrayMap(e -> concat('\x1F', replaceAll(replaceAll(replaceAll(e, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')), subdivision_names)),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(client_referrer, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', replaceAll(replaceAll(replaceAll(environment_id, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(sdk_platform, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(sdk_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(asn),
            '\t', replaceAll(replaceAll(replaceAll(asn_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(asn_network, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(bot, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')
        ) AS body, ingested_at
FROM {db}.visits;

-- The visits stored before this migration, once (the view sees new inserts only); a visit the
-- view wrote already comes out with the same sorting key, which every read deduplicates. On
-- a big table this takes as long as reading visits once.
INSERT INTO {db}.visit_pages (tenant, visitor_id, timestamp_ms, request_id, time, body, ingested_at)
SELECT tenant, visitor_id, timestamp_ms, request_id, time, concat(
            replaceAll(replaceAll(replaceAll(url, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(ip, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(incognito),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(linked_id, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', replaceAll(replaceAll(replaceAll(tag, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(toFloat64(bot_probability)),
            '\t', replaceAll(replaceAll(replaceAll(browser_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(browser_major_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(browser_full_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(os, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(os_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(device, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(user_agent, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(has_location),
            '\t', ifNull(toString(accuracy_radius), '\\N'),
            '\t', ifNull(toString(latitude), '\\N'),
            '\t', ifNull(toString(longitude), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(postal_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(timezone, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(city_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(continent_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(continent_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(country_code, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(country_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', arrayStringConcat(arrayMap(e -> concat('\x1F', replaceAll(replaceAll(replaceAll(e, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')), subdivision_iso_codes)),
            '\t', arrayStringConcat(arrayMap(e -> concat('\x1F', replaceAll(replaceAll(replaceAll(e, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')), subdivision_names)),
            '\t', ifNull(replaceAll(replaceAll(replaceAll(client_referrer, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'), '\\N'),
            '\t', replaceAll(replaceAll(replaceAll(environment_id, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(sdk_platform, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(sdk_version, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', toString(asn),
            '\t', replaceAll(replaceAll(replaceAll(asn_name, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(asn_network, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u'),
            '\t', replaceAll(replaceAll(replaceAll(bot, '\\', '\\\\'), '\t', '\\t'), '\x1F', '\\u')
        ) AS body, ingested_at
FROM {db}.visits
