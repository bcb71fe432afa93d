-- Analytics: what each order contributes to the sales reports, and those contributions summed
-- per (organization, quarter hour, shop, currency) as the orders are written.
--
-- An order row carries its gross sales (line items at their prices before discounts), its
-- discounts, the money refunded and its units, computed when it is written. `order_sales_15m`
-- holds their sums over the orders created in each UTC quarter hour (the bucket is its start,
-- epoch ms): every time zone's offset is a whole number of quarter hours, so a report
-- regroups the buckets into local days, weeks, months and hours exactly. Triggers on `orders`
-- keep the sums exact under every write (import, sync, webhook, refresh, erasure, a shop's
-- deletion): an update takes the old row's contribution out and puts the new one's in.
-- Money never mixes currencies: the currency is part of the key.

ALTER TABLE orders ADD COLUMN gross_e4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN discounts_e4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded_e4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN units BIGINT NOT NULL DEFAULT 0;

-- Orders written before this migration: units and gross from their line items (discounts
-- and refunds were not kept; they stay zero until the order is written again).
UPDATE orders SET
    units = COALESCE((SELECT SUM(li.quantity) FROM order_line_items li
                      WHERE li.shop_id = orders.shop_id AND li.order_source_id = orders.source_id), 0),
    gross_e4 = COALESCE((SELECT SUM(li.quantity * li.price_e4) FROM order_line_items li
                         WHERE li.shop_id = orders.shop_id AND li.order_source_id = orders.source_id),
                        subtotal_price_e4, total_price_e4);

CREATE TABLE order_sales_15m (
    organization_id  TEXT NOT NULL,
    bucket           BIGINT NOT NULL,
    shop_id          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    -- Orders that are not cancelled, and their figures.
    order_count      BIGINT NOT NULL,
    gross_e4         BIGINT NOT NULL,
    discounts_e4     BIGINT NOT NULL,
    refunded_e4      BIGINT NOT NULL,
    units            BIGINT NOT NULL,
    total_e4         BIGINT NOT NULL,
    -- Cancelled orders and their totals.
    cancelled_count  BIGINT NOT NULL,
    cancelled_e4     BIGINT NOT NULL,
    PRIMARY KEY (organization_id, bucket, shop_id, currency)
);

INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
    SELECT organization_id, created_at - created_at % 900000, shop_id, currency,
           SUM(CASE WHEN cancelled_at IS NULL THEN 1 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN gross_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN discounts_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN refunded_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN units ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN total_price_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE 1 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE total_price_e4 END)
    FROM orders GROUP BY 1, 2, 3, 4;

-- Row-level triggers (SQLite has no others; a row costs a B-tree upsert in process).
CREATE TRIGGER orders_sales_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id, NEW.created_at - NEW.created_at % 900000, NEW.shop_id, NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4,
        discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4,
        units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4,
        cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
CREATE TRIGGER orders_sales_update AFTER UPDATE ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id, OLD.created_at - OLD.created_at % 900000, OLD.shop_id, OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4,
        discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4,
        units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4,
        cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id, NEW.created_at - NEW.created_at % 900000, NEW.shop_id, NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4,
        discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4,
        units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4,
        cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
CREATE TRIGGER orders_sales_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id, OLD.created_at - OLD.created_at % 900000, OLD.shop_id, OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4,
        discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4,
        units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4,
        cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
