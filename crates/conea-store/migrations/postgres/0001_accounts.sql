-- Organizations, users, memberships, grants and API keys.
-- Times are epoch milliseconds (BIGINT) in both backends: every time comparison is made
-- against the application's injected clock, never the database's now().
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    name           TEXT,
    password_hash  TEXT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE organization_members (
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members (user_id, created_at);

CREATE TABLE user_permissions (
    organization_id  TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    permission       TEXT NOT NULL,
    granted_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id, permission),
    FOREIGN KEY (organization_id, user_id)
        REFERENCES organization_members (organization_id, user_id) ON DELETE CASCADE
);

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    prefix           TEXT NOT NULL,
    key_digest       TEXT NOT NULL UNIQUE,
    created_by       TEXT,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT,
    revoked_at       BIGINT,
    last_used_at     BIGINT
);
CREATE INDEX api_keys_organization ON api_keys (organization_id, created_at);

CREATE TABLE api_key_permissions (
    api_key_id  TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (api_key_id, permission)
);

-- Bumped by every change that can invalidate a cached credential; replicas poll it.
CREATE TABLE auth_epoch (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);
