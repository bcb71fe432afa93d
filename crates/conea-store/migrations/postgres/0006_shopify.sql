-- Shopify connections: one row per shop of kind 'shopify' (the shop row in `shops` holds the
-- data; this one the connection). Secrets are sealed by conea-core's SecretBox (ChaCha20-
-- Poly1305 under CONEA_SECRET_KEY) and NULL once disconnected. A webhook finds its shop by
-- domain alone, so a domain is connected to at most one shop across all organizations.
CREATE TABLE shopify_shops (
    shop_id              TEXT PRIMARY KEY REFERENCES shops(id) ON DELETE CASCADE,
    organization_id      TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain               TEXT NOT NULL,
    access_token         TEXT,
    api_secret           TEXT,
    previous_api_secret  TEXT,
    api_version          TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('active', 'unauthorized', 'uninstalled', 'disconnected')),
    status_message       TEXT,
    last_sync_at         BIGINT,
    -- Deliveries refused for a bad signature. Accepted ones are counted from the deliveries
    -- table when read: a counter here would be one hot row every delivery locks.
    webhooks_rejected    BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX shopify_shops_domain ON shopify_shops (domain) WHERE status <> 'disconnected';
CREATE INDEX shopify_shops_organization ON shopify_shops (organization_id, shop_id);

-- Verified webhook deliveries, stored in the transaction that enqueues their job. The
-- dedup key is X-Shopify-Event-Id, else X-Shopify-Webhook-Id: a duplicate inserts nothing.
CREATE TABLE shopify_webhook_deliveries (
    shop_id          TEXT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    dedup_key        TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    topic            TEXT NOT NULL,
    webhook_id       TEXT,
    event_id         TEXT,
    api_version      TEXT,
    triggered_at     BIGINT,
    payload          TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    processed_at     BIGINT,
    PRIMARY KEY (shop_id, dedup_key)
);
CREATE INDEX shopify_webhook_deliveries_received ON shopify_webhook_deliveries (shop_id, received_at);

-- Where each resource's sync stands: the page cursor of the pass in progress (resumable
-- after a crash) and the updated_at_min watermark of the next incremental pass.
CREATE TABLE shopify_sync_state (
    shop_id          TEXT NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    resource         TEXT NOT NULL CHECK (resource IN ('products', 'customers', 'orders')),
    cursor           TEXT,
    pass_min         BIGINT,
    pass_started_at  BIGINT,
    pass_synced      BIGINT NOT NULL DEFAULT 0,
    updated_at_min   BIGINT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (shop_id, resource)
);
