-- Shopify's API deprecation notices: the latest `X-Shopify-API-Deprecated-Reason` a shop's
-- Admin API answered with (the reason as Shopify wrote it, the endpoint's path, the API
-- version the call used, when it was seen). Shown while the shop still uses that version.
ALTER TABLE shopify_shops ADD COLUMN deprecation_reason TEXT;
ALTER TABLE shopify_shops ADD COLUMN deprecation_endpoint TEXT;
ALTER TABLE shopify_shops ADD COLUMN deprecation_api_version TEXT;
ALTER TABLE shopify_shops ADD COLUMN deprecation_seen_at BIGINT;

-- The shop's own interval between scheduled syncs, in milliseconds (NULL: the server's
-- SHOPIFY_SYNC_INTERVAL).
ALTER TABLE shopify_shops ADD COLUMN sync_interval_ms BIGINT;

-- Reconciliation (the ids Shopify holds against the ids here, per resource): when the shop's
-- next one is due (NULL: its last sync + SHOPIFY_RECONCILE_INTERVAL), and the counts of the
-- last one.
ALTER TABLE shopify_shops ADD COLUMN next_reconcile_at BIGINT;
ALTER TABLE shopify_shops ADD COLUMN reconciled_at BIGINT;
ALTER TABLE shopify_shops ADD COLUMN reconcile_checked BIGINT;
ALTER TABLE shopify_shops ADD COLUMN reconcile_removed BIGINT;
ALTER TABLE shopify_shops ADD COLUMN reconcile_fetched BIGINT;
