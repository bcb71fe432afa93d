-- Per-organization and per-API-key rate-limit overrides (the default comes from
-- RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST).
CREATE TABLE rate_limit_overrides (
    scope            TEXT NOT NULL CHECK (scope IN ('organization', 'api_key')),
    subject_id       TEXT NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    per_minute       BIGINT NOT NULL CHECK (per_minute > 0),
    burst            BIGINT CHECK (burst > 0),
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (scope, subject_id)
);
