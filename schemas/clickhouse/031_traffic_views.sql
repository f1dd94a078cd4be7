-- Traffic per tenant and UTC day, overall and by country, browser, OS and device, kept by
-- ClickHouse from every insert into visits (traffic_daily_mv). Read it with the -Merge
-- functions and GROUP BY, never plain SELECT: e.g. uniqMerge(visits) ... WHERE tenant = 'T'
-- AND dimension = 'country' GROUP BY day, value. Duplicates: every measure is a uniq state
-- over requestIds or visitorIds, so a visit Kafka delivered twice counts once, and states
-- inserted twice (a backfill run again) change nothing. Erasures: DELETE /visitors/<id>
-- deletes the rows of the days the visitor was seen and rebuilds them from the visits left
-- (schemas/clickhouse/statements.py delete_erased). uniq is exact up to 65,536 distinct
-- values per group and within about 2% beyond, the same estimate as uniq() on visits.
CREATE TABLE IF NOT EXISTS {db}.traffic_daily
(
    tenant            {lc_string} COMMENT 'workspace (as visits.tenant)',
    day               Date        COMMENT 'UTC day of the visits (toDate(visits.time))',
    dimension         {lc_string} COMMENT 'what value is: all (the day overall, value empty), country, browser, os or device',
    value             String      COMMENT 'country code (empty when unknown), browser name, OS or device, as in visits',
    visits            AggregateFunction(uniq, String) COMMENT 'distinct requestIds: uniqMerge(visits)',
    visitors          AggregateFunction(uniq, String) COMMENT 'distinct visitorIds: uniqMerge(visitors)',
    bot_visits        AggregateFunction(uniq, String) COMMENT 'distinct requestIds with bot_probability >= 0.5: uniqMerge(bot_visits)',
    incognito_visits  AggregateFunction(uniq, String) COMMENT 'distinct requestIds made in incognito mode: uniqMerge(incognito_visits)'
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (tenant, dimension, day, value)
-- Few rows, each of up to 4 x 256 KiB of states (2M visits: 1,440 rows, 77 MiB): granules
-- of 8192 rows made a one-day question read every row's states (0.7 s); of 64, it reads
-- the rows it asks for.
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.traffic_daily_mv TO {db}.traffic_daily AS
SELECT
    tenant,
    toDate(time) AS day,
    dim.1 AS dimension,
    dim.2 AS value,
    uniqState(request_id) AS visits,
    uniqState(visitor_id) AS visitors,
    uniqStateIf(request_id, bot_probability >= 0.5) AS bot_visits,
    uniqStateIf(request_id, incognito = 1) AS incognito_visits
FROM {db}.visits
ARRAY JOIN [('all', ''), ('country', toString(ifNull(country_code, ''))),
    ('browser', toString(browser_name)), ('os', toString(os)), ('device', toString(device))] AS dim
GROUP BY tenant, day, dimension, value;

-- Traffic per tenant and UTC hour, kept like traffic_daily (same rules for duplicates and
-- erasures): uniqMerge(visits), uniqMerge(visitors) ... GROUP BY hour.
CREATE TABLE IF NOT EXISTS {db}.traffic_hourly
(
    tenant      {lc_string}      COMMENT 'workspace (as visits.tenant)',
    hour        DateTime('UTC')  COMMENT 'start of the UTC hour of the visits',
    visits      AggregateFunction(uniq, String) COMMENT 'distinct requestIds: uniqMerge(visits)',
    visitors    AggregateFunction(uniq, String) COMMENT 'distinct visitorIds: uniqMerge(visitors)',
    bot_visits  AggregateFunction(uniq, String) COMMENT 'distinct requestIds with bot_probability >= 0.5: uniqMerge(bot_visits)'
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, hour)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.traffic_hourly_mv TO {db}.traffic_hourly AS
SELECT
    tenant,
    toStartOfHour(toDateTime(time, 'UTC')) AS hour,
    uniqState(request_id) AS visits,
    uniqState(visitor_id) AS visitors,
    uniqStateIf(request_id, bot_probability >= 0.5) AS bot_visits
FROM {db}.visits
GROUP BY tenant, hour
