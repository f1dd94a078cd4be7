-- then: vh views backfill
-- The analysts' aggregates of 031 again, with uniqCombined states instead of uniq: a
-- question over a month merges every state it reads, and merging uniq's hash sets (up to
-- 65,536 hashes a row) was most of its time; uniqCombined's are small for small groups and
-- a fixed 2^17-cell HyperLogLog sketch beyond, merged cell by cell (120 states of 55,000
-- values on 18.16: 873 ms as uniq, 145 ms as uniqCombined). The tables and their views are
-- dropped and made again, empty; `vh migrate` then refills them from the stored visits
-- (`vh views backfill`, the line above), which the views' idempotence makes safe while the
-- worker keeps writing.
DROP TABLE IF EXISTS {db}.traffic_daily_mv;
DROP TABLE IF EXISTS {db}.traffic_daily;
DROP TABLE IF EXISTS {db}.traffic_hourly_mv;
DROP TABLE IF EXISTS {db}.traffic_hourly;

-- Traffic per tenant and UTC day, overall and by country, browser, OS and device, kept by
-- ClickHouse from every insert into visits (traffic_daily_mv). Read it with the -Merge
-- functions and GROUP BY, never plain SELECT: e.g. uniqCombinedMerge(visits) ... WHERE
-- tenant = 'T' AND dimension = 'country' GROUP BY day, value. Duplicates: every measure is
-- a uniqCombined state over requestIds or visitorIds, so a visit Kafka delivered twice
-- counts once, and states inserted twice (a backfill run again) change nothing. Erasures:
-- DELETE /visitors/<id> deletes the rows of the days the visitor was seen and rebuilds them
-- from the visits left (schemas/clickhouse/statements.py delete_erased). uniqCombined is
-- exact up to 4,096 distinct values (current servers; 18.16 further) and a HyperLogLog
-- sketch within about 1% beyond; merged states give what uniqCombined() over the same
-- visits gives, so the raw answers of docs/analytics.md use it too.
CREATE TABLE IF NOT EXISTS {db}.traffic_daily
(
    tenant            {lc_string} COMMENT 'workspace (as visits.tenant)',
    day               Date        COMMENT 'UTC day of the visits (toDate(visits.time))',
    dimension         {lc_string} COMMENT 'what value is: all (the day overall, value empty), country, browser, os or device',
    value             String      COMMENT 'country code (empty when unknown), browser name, OS or device, as in visits',
    visits            AggregateFunction(uniqCombined, String) COMMENT 'distinct requestIds: uniqCombinedMerge(visits)',
    visitors          AggregateFunction(uniqCombined, String) COMMENT 'distinct visitorIds: uniqCombinedMerge(visitors)',
    bot_visits        AggregateFunction(uniqCombined, String) COMMENT 'distinct requestIds with bot_probability >= 0.5: uniqCombinedMerge(bot_visits)',
    incognito_visits  AggregateFunction(uniqCombined, String) COMMENT 'distinct requestIds made in incognito mode: uniqCombinedMerge(incognito_visits)'
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, dimension, day, value)
-- Few rows, each of up to 4 states of about 100 KiB: granules of 64 rows let a one-day
-- question read the rows it asks for (of 8192, it read every row's states).
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.traffic_daily_mv TO {db}.traffic_daily AS
SELECT
    tenant,
    toDate(time) AS day,
    dim.1 AS dimension,
    dim.2 AS value,
    uniqCombinedState(request_id) AS visits,
    uniqCombinedState(visitor_id) AS visitors,
    uniqCombinedStateIf(request_id, bot_probability >= 0.5) AS bot_visits,
    uniqCombinedStateIf(request_id, incognito = 1) AS incognito_visits
FROM {db}.visits
ARRAY JOIN [('all', ''), ('country', toString(ifNull(country_code, ''))),
    ('browser', toString(browser_name)), ('os', toString(os)), ('device', toString(device))] AS dim
GROUP BY tenant, day, dimension, value;

-- Traffic per tenant and UTC hour, kept like traffic_daily (same rules for duplicates and
-- erasures): uniqCombinedMerge(visits), uniqCombinedMerge(visitors) ... GROUP BY hour.
CREATE TABLE IF NOT EXISTS {db}.traffic_hourly
(
    tenant      {lc_string}      COMMENT 'workspace (as visits.tenant)',
    hour        DateTime('UTC')  COMMENT 'start of the UTC hour of the visits',
    visits      AggregateFunction(uniqCombined, String) COMMENT 'distinct requestIds: uniqCombinedMerge(visits)',
    visitors    AggregateFunction(uniqCombined, String) COMMENT 'distinct visitorIds: uniqCombinedMerge(visitors)',
    bot_visits  AggregateFunction(uniqCombined, String) COMMENT 'distinct requestIds with bot_probability >= 0.5: uniqCombinedMerge(bot_visits)'
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, hour)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.traffic_hourly_mv TO {db}.traffic_hourly AS
SELECT
    tenant,
    toStartOfHour(toDateTime(time, 'UTC')) AS hour,
    uniqCombinedState(request_id) AS visits,
    uniqCombinedState(visitor_id) AS visitors,
    uniqCombinedStateIf(request_id, bot_probability >= 0.5) AS bot_visits
FROM {db}.visits
GROUP BY tenant, hour
