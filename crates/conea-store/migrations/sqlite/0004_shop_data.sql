-- Shop data: shops and what they sell and sold, keyed by (shop, source id) so that imports,
-- API syncs and webhooks upsert idempotently. `source_updated_at` is the source's own
-- `updated_at`: an upsert only overwrites when the incoming version is as new or newer.
-- Line items and variants belong to their order and product and are replaced with them.
-- The data tables have no per-row foreign key to shops (checking one per inserted row halved
-- import throughput); the trigger at the end deletes a shop's data with the shop, and shops
-- go with their organization.
-- Times are epoch milliseconds (BIGINT). Money is BIGINT in ten-thousandths of the currency
-- unit (columns ending in `_e4`; "199.00" is 1990000), so sums are exact on both backends.
CREATE TABLE shops (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain           TEXT,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('manual', 'shopify')),
    currency         TEXT,
    created_at       BIGINT NOT NULL,
    UNIQUE (organization_id, domain)
);
-- One manual (default) shop per organization.
CREATE UNIQUE INDEX shops_one_manual ON shops (organization_id) WHERE kind = 'manual';

CREATE TABLE products (
    shop_id            TEXT NOT NULL,
    source_id          BIGINT NOT NULL,
    organization_id    TEXT NOT NULL,
    title              TEXT NOT NULL,
    vendor             TEXT,
    product_type       TEXT,
    status             TEXT,
    created_at         BIGINT,
    source_updated_at  BIGINT NOT NULL,
    imported_at        BIGINT NOT NULL,
    PRIMARY KEY (shop_id, source_id)
);

CREATE TABLE product_variants (
    shop_id             TEXT NOT NULL,
    source_id           BIGINT NOT NULL,
    organization_id     TEXT NOT NULL,
    product_source_id   BIGINT NOT NULL,
    title               TEXT,
    sku                 TEXT,
    price_e4            BIGINT,
    inventory_quantity  BIGINT,
    -- The product's source_updated_at: variants travel with their product.
    source_updated_at   BIGINT NOT NULL,
    imported_at         BIGINT NOT NULL,
    PRIMARY KEY (shop_id, product_source_id, source_id)
);

CREATE TABLE customers (
    shop_id            TEXT NOT NULL,
    source_id          BIGINT NOT NULL,
    organization_id    TEXT NOT NULL,
    email              TEXT,
    first_name         TEXT,
    last_name          TEXT,
    orders_count       BIGINT,
    total_spent_e4     BIGINT,
    created_at         BIGINT,
    source_updated_at  BIGINT NOT NULL,
    imported_at        BIGINT NOT NULL,
    PRIMARY KEY (shop_id, source_id)
);

CREATE TABLE orders (
    shop_id             TEXT NOT NULL,
    source_id           BIGINT NOT NULL,
    organization_id     TEXT NOT NULL,
    name                TEXT,
    email               TEXT,
    customer_source_id  BIGINT,
    currency            TEXT NOT NULL,
    total_price_e4      BIGINT NOT NULL,
    subtotal_price_e4   BIGINT,
    -- open | closed | cancelled (derived from cancelled_at and closed_at)
    status              TEXT NOT NULL,
    financial_status    TEXT,
    fulfillment_status  TEXT,
    created_at          BIGINT NOT NULL,
    cancelled_at        BIGINT,
    closed_at           BIGINT,
    source_updated_at   BIGINT NOT NULL,
    imported_at         BIGINT NOT NULL,
    PRIMARY KEY (shop_id, source_id)
);

CREATE TABLE order_line_items (
    shop_id             TEXT NOT NULL,
    source_id           BIGINT NOT NULL,
    organization_id     TEXT NOT NULL,
    order_source_id     BIGINT NOT NULL,
    product_source_id   BIGINT,
    variant_source_id   BIGINT,
    title               TEXT NOT NULL,
    sku                 TEXT,
    quantity            BIGINT NOT NULL,
    price_e4            BIGINT NOT NULL,
    -- The order's source_updated_at: line items travel with their order.
    source_updated_at   BIGINT NOT NULL,
    imported_at         BIGINT NOT NULL,
    -- Keyed within their order (Shopify line item ids are unique anyway): the reports join
    -- line items to orders on the key's prefix, an order's items sit together, and writing
    -- an order replaces its items (delete by the key's prefix, plain insert).
    PRIMARY KEY (shop_id, order_source_id, source_id)
);

-- Streamed uploads waiting for their import job, in chunks (seq 0, 1, 2, ...), so the upload
-- is durable before the 202 and the job reads it back chunk by chunk.
CREATE TABLE import_uploads (
    upload_id        TEXT NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL,
    data             BLOB NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (upload_id, seq)
);
CREATE INDEX import_uploads_created ON import_uploads (created_at);

CREATE TRIGGER shops_delete_data AFTER DELETE ON shops
BEGIN
    DELETE FROM order_line_items WHERE shop_id = OLD.id;
    DELETE FROM orders WHERE shop_id = OLD.id;
    DELETE FROM product_variants WHERE shop_id = OLD.id;
    DELETE FROM products WHERE shop_id = OLD.id;
    DELETE FROM customers WHERE shop_id = OLD.id;
END;
