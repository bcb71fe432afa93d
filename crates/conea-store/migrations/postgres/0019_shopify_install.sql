-- Shopify app installs by OAuth in flight: the `state` sent to Shopify's consent page,
-- stored as its SHA-256 (hex) with the organization that started the install and the shop
-- it was started for. A callback marks it used (`used_at`), once; it expires 10 minutes
-- after `created_at`. Rows a day past their expiry are deleted when a new install starts.
CREATE TABLE shopify_install_states (
    state_hash       TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX shopify_install_states_expires ON shopify_install_states (expires_at);

-- Scheduled incremental syncs: when the shop's next sync is due (set when a sync finishes,
-- to its end + SHOPIFY_SYNC_INTERVAL; NULL: none scheduled). Only active shops are picked.
ALTER TABLE shopify_shops ADD COLUMN next_sync_at BIGINT;
CREATE INDEX shopify_shops_next_sync ON shopify_shops (next_sync_at) WHERE status = 'active';
