-- Web console sessions. The cookie holds a random secret; only its SHA-256 digest is stored,
-- so a leaked table does not sign anybody in. A session ends when idle past
-- `idle_expires_at`, at `expires_at`, when its user's password changed (`credential_stamp`),
-- or with the membership (the foreign key deletes it).
CREATE TABLE console_sessions (
    id_digest         TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    credential_stamp  TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    last_seen_at      BIGINT NOT NULL,
    idle_expires_at   BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    FOREIGN KEY (organization_id, user_id)
        REFERENCES organization_members (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX console_sessions_user ON console_sessions (user_id, organization_id);
CREATE INDEX console_sessions_expiry ON console_sessions (idle_expires_at);
