-- API tokens (query_api.tokens). One row per change of a token; the newest `version` wins.
-- Only the SHA-256 of the secret is stored: a leaked table does not leak working tokens.
-- Readers take argMax(..., version) per token_id, so the answer never depends on merges.
CREATE TABLE IF NOT EXISTS {db}.api_tokens
(
    token_id     String   COMMENT 'public id, shown by `list`, used by `revoke`',
    tenant       String   COMMENT 'the only tenant (workspaceId) this token may read or erase',
    token_hash   String   COMMENT 'sha256 hex of the secret',
    name         String   COMMENT 'what the token is for, free text',
    created_at   DateTime,
    revoked      UInt8,
    version      UInt64   COMMENT 'epoch ms of this change, highest wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY token_id
