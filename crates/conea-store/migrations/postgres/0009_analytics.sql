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

-- Statement-level triggers over the transition tables: one grouped upsert per statement,
-- not one per order (an import writes its orders a thousand at a time).
CREATE FUNCTION order_sales_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO order_sales_15m AS s (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        SELECT organization_id, created_at - created_at % 900000, shop_id, currency,
           SUM(CASE WHEN cancelled_at IS NULL THEN -1 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN -gross_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN -discounts_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN -refunded_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN -units ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN -total_price_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE -1 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE -total_price_e4 END)
        FROM old_rows GROUP BY 1, 2, 3, 4
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4,
        discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4,
        units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4,
        cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO order_sales_15m AS s (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        SELECT organization_id, created_at - created_at % 900000, shop_id, currency,
           SUM(CASE WHEN cancelled_at IS NULL THEN 1 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN gross_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN discounts_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN refunded_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN units ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN total_price_e4 ELSE 0 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE 1 END),
           SUM(CASE WHEN cancelled_at IS NULL THEN 0 ELSE total_price_e4 END)
        FROM new_rows GROUP BY 1, 2, 3, 4
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4,
        discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4,
        units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4,
        cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_sales_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_sales_apply();
CREATE TRIGGER orders_sales_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_sales_apply();
CREATE TRIGGER orders_sales_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_sales_apply();
