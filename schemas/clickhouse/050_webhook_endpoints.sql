-- Webhook endpoints (`vh webhooks add|list|remove|rotate-secret`, read by `vh webhooks run`).
-- One row per change of an endpoint; readers take argMax(..., version) per endpoint, so the
-- answer never depends on merges. The secret itself is stored: signing an event needs it
-- (HMAC-SHA256), unlike an API token, whose hash suffices to check it. Small, on every node.
CREATE TABLE IF NOT EXISTS {db}.webhook_endpoints
(
    tenant           String   COMMENT 'the workspaceId whose stored events it receives',
    endpoint_id      String   COMMENT 'public id, shown by `list`, used in metrics and logs',
    url              String   COMMENT 'http(s) URL the events are POSTed to',
    secret           String   COMMENT 'HMAC-SHA256 key of the fpjs-event-signature header',
    previous_secret  String   COMMENT 'the secret before the last rotation, also signed with during the grace period, empty: none',
    rotated_at_ms    UInt64   COMMENT 'epoch ms of the last rotation, 0: never rotated',
    removed          UInt8    COMMENT '1 once removed',
    version          UInt64   COMMENT 'epoch ms of this change (at least the previous + 1), highest wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, endpoint_id)
