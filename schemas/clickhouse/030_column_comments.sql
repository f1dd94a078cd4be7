-- Every column analysts may query carries a COMMENT saying what it holds, in which unit, and
-- which Server API field it feeds; docs/schema.md is generated from these (vh schema-doc) and
-- tests/schemas/test_schema_doc.py fails when the two drift apart. Comments set in the
-- earlier CREATE statements are kept; this adds the missing ones and names API fields.
-- On a cluster of 18.16 servers replicated tables carry no comments (layout.py strips them:
-- 18.16 refuses such a table), so there these statements render to nothing.
ALTER TABLE {db}.visits
    COMMENT COLUMN tenant 'workspace the visit belongs to (the tenant of the API token), filter on it first: it leads the sorting key',
    COMMENT COLUMN visitor_id 'FingerprintJS visitorId (API: visitorId), a browser, not a person',
    COMMENT COLUMN request_id 'FingerprintJS requestId, unique per visit (API: requestId), stored twice when Kafka redelivers: count with uniq(request_id) or LIMIT 1 BY request_id',
    COMMENT COLUMN url 'page address the visit was made on (API: url)',
    COMMENT COLUMN ip 'client address as collected, IPv4 or IPv6 text (API: ip)',
    COMMENT COLUMN incognito '1 when the browser was in private (incognito) mode (API: incognito)',
    COMMENT COLUMN linked_id 'linkedId set by the application, e.g. an account id, NULL when none (API: linkedId)',
    COMMENT COLUMN tag 'tag object as JSON text, {} when none (API: tag), read with JSONExtract',
    COMMENT COLUMN bot_probability 'collector value 0..1, 1 for known bot user agents (API: browserDetails.botProbability), this project counts >= 0.5 as a bot',
    COMMENT COLUMN browser_name 'browser family parsed from the user agent, e.g. Chrome (API: browserDetails.browserName)',
    COMMENT COLUMN browser_major_version 'major version text, e.g. 120 (API: browserDetails.browserMajorVersion)',
    COMMENT COLUMN browser_full_version 'full version text (API: browserDetails.browserFullVersion)',
    COMMENT COLUMN os 'operating system family, e.g. Windows (API: browserDetails.os)',
    COMMENT COLUMN os_version 'operating system version text, empty when unknown (API: browserDetails.osVersion)',
    COMMENT COLUMN device 'device model, Other for desktops (API: browserDetails.device)',
    COMMENT COLUMN user_agent 'User-Agent header as collected (API: browserDetails.userAgent)',
    COMMENT COLUMN has_location '0 when the GeoIP database knows nothing of the ip (then API: no ipLocation)',
    COMMENT COLUMN accuracy_radius 'km around latitude/longitude, NULL when unknown (API: ipLocation.accuracyRadius)',
    COMMENT COLUMN latitude 'degrees, NULL when unknown (API: ipLocation.latitude)',
    COMMENT COLUMN longitude 'degrees, NULL when unknown (API: ipLocation.longitude)',
    COMMENT COLUMN postal_code 'NULL when unknown (API: ipLocation.postalCode)',
    COMMENT COLUMN timezone 'IANA time zone of the place, e.g. Europe/London, NULL when unknown (API: ipLocation.timezone)',
    COMMENT COLUMN city_name 'English city name, NULL when unknown (API: ipLocation.city.name)',
    COMMENT COLUMN continent_code 'two letters, e.g. EU, NULL when unknown (API: ipLocation.continent.code)',
    COMMENT COLUMN continent_name 'English name, NULL when unknown (API: ipLocation.continent.name)',
    COMMENT COLUMN country_code 'ISO 3166-1 alpha-2, e.g. GB, NULL when unknown (API: ipLocation.country.code)',
    COMMENT COLUMN country_name 'English name, NULL when unknown (API: ipLocation.country.name)',
    COMMENT COLUMN subdivision_iso_codes 'ISO 3166-2 subdivision codes, largest first, parallel to subdivision_names (API: ipLocation.subdivisions[].isoCode)',
    COMMENT COLUMN subdivision_names 'English subdivision names, parallel to subdivision_iso_codes (API: ipLocation.subdivisions[].name)',
    COMMENT COLUMN kafka_topic 'Kafka topic the event came from (lineage, not in the API)',
    COMMENT COLUMN kafka_partition 'Kafka partition the event came from (lineage, not in the API)',
    COMMENT COLUMN kafka_offset 'Kafka offset of the event (lineage): two rows with one request_id and two offsets are a redelivery';

ALTER TABLE {db}.visitor_summary
    COMMENT COLUMN tenant 'workspace (as visits.tenant)',
    COMMENT COLUMN visitor_id 'FingerprintJS visitorId (as visits.visitor_id)',
    COMMENT COLUMN first_seen 'epoch ms of the first visit in this tenant, read with minMerge (API: firstSeenAt.subscription)',
    COMMENT COLUMN last_seen 'epoch ms of the last visit in this tenant, read with maxMerge (API: lastSeenAt.subscription)',
    COMMENT COLUMN visits 'distinct requestIds, read with uniqMerge (API: 404 when 0)';

ALTER TABLE {db}.visitor_summary_global
    COMMENT COLUMN visitor_id 'FingerprintJS visitorId, across every tenant',
    COMMENT COLUMN first_seen 'epoch ms of the first visit in any tenant, read with minMerge (API: firstSeenAt.global)',
    COMMENT COLUMN last_seen 'epoch ms of the last visit in any tenant, read with maxMerge (API: lastSeenAt.global)';

ALTER TABLE {db}.erasures
    COMMENT COLUMN tenant 'workspace that asked for the erasure',
    COMMENT COLUMN visitor_id 'the erased visitorId (DELETE /visitors/<visitorId>)';

ALTER TABLE {db}.api_tokens
    COMMENT COLUMN created_at 'when the token was created, UTC',
    COMMENT COLUMN revoked '1 once revoked: the token no longer authenticates';

ALTER TABLE {db}.request_index
    COMMENT COLUMN tenant 'workspace (as visits.tenant)',
    COMMENT COLUMN request_id 'FingerprintJS requestId (GET /events/<requestId>)',
    COMMENT COLUMN visitor_id 'the visitor the request belongs to',
    COMMENT COLUMN timestamp_ms 'visit time, epoch milliseconds';

ALTER TABLE {db}.schema_migrations
    COMMENT COLUMN version 'migration number, the NNN of schemas/clickhouse/NNN_name.sql',
    COMMENT COLUMN name 'migration file name without number and .sql',
    COMMENT COLUMN checksum 'sha256 prefix of the file as applied',
    COMMENT COLUMN applied_at 'when it was applied, server time'
