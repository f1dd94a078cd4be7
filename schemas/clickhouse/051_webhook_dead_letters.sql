-- Webhook deliveries given up on (retries exhausted, the endpoint's queue full, the target
-- refused), with the body as it was POSTed, for `vh webhooks replay`. One row per change;
-- the newest version wins (argMax), a replayed letter gets a row with replayed = 1. On
-- every node, like the endpoints: small unless an endpoint is down for long.
CREATE TABLE IF NOT EXISTS {db}.webhook_dead_letters
(
    tenant            String   COMMENT 'the workspaceId of the event',
    endpoint_id       String   COMMENT 'webhook_endpoints.endpoint_id it was meant for',
    event_id          String   COMMENT 'the v4 event_id (requestId)',
    visitor_id        String   COMMENT 'the event visitor (replays keep its order)',
    body              String   COMMENT 'the v4 event JSON as it was POSTed',
    reason            String   COMMENT 'why delivery stopped: the last status or error, queue_full, or target refused',
    attempts          UInt32   COMMENT 'POSTs made',
    first_attempt_ms  UInt64   COMMENT 'epoch ms of the first POST (0: none was made)',
    dead_at_ms        UInt64   COMMENT 'epoch ms it was given up on',
    replayed          UInt8    COMMENT '1 once `vh webhooks replay` delivered it',
    version           UInt64   COMMENT 'epoch ms of this change, highest wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, endpoint_id, event_id)
