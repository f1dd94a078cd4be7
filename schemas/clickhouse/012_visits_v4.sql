-- What the Server API v4 event carries beyond v3 (issue 14): the collector's optional fields
-- (schemas/raw_event.py), ASN and the bot verdict from enrichment, and what enriched the row
-- (so a later backfill can tell old rows from new). Rows stored before this migration read the
-- defaults: no collector fields, no ASN, a bot verdict from what they have (a known crawler's
-- user agent is a good bot, any other probable bot a bad one), lineage 0 / '' ("before").
-- 18.16 has no ADD COLUMN IF NOT EXISTS: the one ALTER adds them all or none.
ALTER TABLE {db}.visits
    ADD COLUMN origin String DEFAULT '' COMMENT 'page origin (scheme://host[:port]), empty when not collected',
    ADD COLUMN client_referrer Nullable(String) COMMENT 'document.referrer, NULL when not collected, empty for direct navigation',
    ADD COLUMN environment_id String DEFAULT '' COMMENT 'Fingerprint environment id, empty when none',
    ADD COLUMN sdk_platform String DEFAULT '' COMMENT 'js, android, ios, unknown, empty when not collected',
    ADD COLUMN sdk_version String DEFAULT '',
    ADD COLUMN asn UInt32 DEFAULT 0 COMMENT 'autonomous system number of ip, 0 when unknown',
    ADD COLUMN asn_name String DEFAULT '',
    ADD COLUMN asn_network String DEFAULT '' COMMENT 'the announced network holding ip, CIDR',
    ADD COLUMN bot String DEFAULT multiIf(bot_probability < 0.5, 'not_detected', device = 'Spider', 'good', 'bad') COMMENT 'good, bad or not_detected (enrich.bots)',
    ADD COLUMN geoip_build UInt64 DEFAULT 0 COMMENT 'build epoch (s) of the City database that located ip, 0: none',
    ADD COLUMN asn_build UInt64 DEFAULT 0 COMMENT 'build epoch (s) of the ASN database, 0: none',
    ADD COLUMN ua_rules String DEFAULT '' COMMENT 'version of the user-agent rules that parsed user_agent',
    ADD COLUMN ip_key String DEFAULT '' COMMENT 'ip as 32 hex digits of its IPv6 form (IPv4 mapped), for range searches'
