-- Incidents and their timelines (issue 8). One open (not resolved) incident per
-- (organization, dedup_key): a repeated report bumps `repeat_count` instead of opening another.
CREATE TABLE incidents (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    severity         TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    status           TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    source           TEXT NOT NULL,
    dedup_key        TEXT NOT NULL,
    summary          TEXT NOT NULL DEFAULT '',
    details          JSONB NOT NULL DEFAULT '{}',
    repeat_count     BIGINT NOT NULL DEFAULT 1,
    severity_since   BIGINT NOT NULL,
    opened_at        BIGINT NOT NULL,
    acknowledged_at  BIGINT,
    acknowledged_by  TEXT,
    resolved_at      BIGINT,
    resolved_by      TEXT,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX incidents_open_dedup ON incidents (organization_id, dedup_key) WHERE status <> 'resolved';
CREATE INDEX incidents_organization ON incidents (organization_id, opened_at);

-- Timeline entries. `step` is set for the entry that records an escalation step as done;
-- the unique index makes a step happen at most once per incident.
CREATE TABLE incident_timeline (
    id           BIGSERIAL PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    step         TEXT,
    data         JSONB NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at, id);
CREATE UNIQUE INDEX incident_timeline_step ON incident_timeline (incident_id, step) WHERE step IS NOT NULL;

-- Nonces of signed action links already used (single use); prunable after expiry.
CREATE TABLE incident_link_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL
);
