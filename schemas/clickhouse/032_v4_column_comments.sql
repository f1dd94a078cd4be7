-- Comments for the columns Server API v4 added (012-014): those without one get one, and
-- 012's are set again because 18.16 drops a COMMENT given in ADD COLUMN. Thus every column
-- analysts may query says what it holds and which API field it feeds (docs/schema.md,
-- checked by tests/schemas/test_schema_doc.py). As 030: nothing on a cluster of 18.16.
ALTER TABLE {db}.visits
    COMMENT COLUMN sdk_version 'version of the collector SDK that sent the visit, empty when not collected (v4: sdk.version)',
    COMMENT COLUMN asn_name 'name of the autonomous system of ip, empty when unknown (v4: ip_info.*.asn_name)',
    COMMENT COLUMN origin 'page origin (scheme://host[:port]), empty when not collected',
    COMMENT COLUMN client_referrer 'document.referrer, NULL when not collected, empty for direct navigation',
    COMMENT COLUMN environment_id 'Fingerprint environment id, empty when none',
    COMMENT COLUMN sdk_platform 'js, android, ios, unknown, empty when not collected',
    COMMENT COLUMN asn 'autonomous system number of ip, 0 when unknown',
    COMMENT COLUMN asn_network 'the announced network holding ip, CIDR',
    COMMENT COLUMN bot 'good, bad or not_detected (enrich.bots)',
    COMMENT COLUMN geoip_build 'build epoch (s) of the City database that located ip, 0: none',
    COMMENT COLUMN asn_build 'build epoch (s) of the ASN database, 0: none',
    COMMENT COLUMN ua_rules 'version of the user-agent rules that parsed user_agent',
    COMMENT COLUMN ip_key 'ip as 32 hex digits of its IPv6 form (IPv4 mapped), for range searches';

ALTER TABLE {db}.event_index
    COMMENT COLUMN tenant 'workspace of the visit (as visits.tenant), filter on it first: it leads the sorting key',
    COMMENT COLUMN timestamp_ms 'visit time, epoch milliseconds (as visits.timestamp_ms, v4: timestamp)',
    COMMENT COLUMN request_id 'the visit (as visits.request_id, v4: event_id), one row per access path',
    COMMENT COLUMN visitor_id 'the visitor (as visits.visitor_id, v4: identification.visitor_id)',
    COMMENT COLUMN url 'page address (as visits.url, v4: url)',
    COMMENT COLUMN origin 'page origin (as visits.origin, v4 search filter origin)',
    COMMENT COLUMN asn 'autonomous system number of ip, 0 when unknown (as visits.asn, v4 search filter asn)',
    COMMENT COLUMN bot 'good, bad or not_detected (as visits.bot, v4: bot)',
    COMMENT COLUMN incognito '1 when the visit was made in incognito mode (as visits.incognito, v4: incognito)';

ALTER TABLE {db}.event_updates
    COMMENT COLUMN tenant 'workspace of the updated event (as visits.tenant)',
    COMMENT COLUMN visitor_id 'visitor of the updated event (as visits.visitor_id)',
    COMMENT COLUMN request_id 'the updated event (as visits.request_id, v4: event_id)';
