-- Durable background jobs. A job is a row; a worker claims it by taking a lease
-- (FOR UPDATE SKIP LOCKED) and heartbeats it; a job whose lease expired is rescued.
CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    args              JSONB NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('available', 'scheduled', 'running', 'retryable', 'completed', 'discarded', 'cancelled')),
    priority          INTEGER NOT NULL DEFAULT 0,
    attempt           INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    scheduled_at      BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    progress          INTEGER NOT NULL DEFAULT 0,
    progress_message  TEXT,
    result            JSONB,
    errors            JSONB NOT NULL DEFAULT '[]',
    unique_key        TEXT,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT
);
CREATE INDEX jobs_runnable ON jobs (priority, scheduled_at, id) WHERE state IN ('available', 'scheduled', 'retryable');
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_organization ON jobs (organization_id, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'discarded', 'cancelled');
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable');

-- The completion ledger: one row per completed job, written in the completing
-- transaction. The primary key makes a second completion impossible (and visible).
CREATE TABLE job_runs (
    job_id        TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    worker        TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    completed_at  BIGINT NOT NULL
);

-- Idempotency-Key: the first response to a POST that creates work, replayed for 24 h.
CREATE TABLE idempotency_keys (
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status           INTEGER,
    response         TEXT,
    headers          TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
