-- Analytics: the sales sums of 0009 also per UTC hour (`order_sales_1h`). A report in a time
-- zone whose offsets over its range are whole hours (most zones: Asia/Tokyo, America/New_York,
-- UTC, …) regroups a quarter as many rows; the quarter-hour sums stay for the others
-- (Asia/Kolkata, Asia/Kathmandu, …). The triggers now keep both.
CREATE TABLE order_sales_1h (
    organization_id  TEXT NOT NULL,
    bucket           BIGINT NOT NULL,
    shop_id          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    order_count      BIGINT NOT NULL,
    gross_e4         BIGINT NOT NULL,
    discounts_e4     BIGINT NOT NULL,
    refunded_e4      BIGINT NOT NULL,
    units            BIGINT NOT NULL,
    total_e4         BIGINT NOT NULL,
    cancelled_count  BIGINT NOT NULL,
    cancelled_e4     BIGINT NOT NULL,
    PRIMARY KEY (organization_id, bucket, shop_id, currency)
);

INSERT INTO order_sales_1h (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
    SELECT organization_id, bucket - bucket % 3600000, shop_id, currency, SUM(order_count), SUM(gross_e4),
           SUM(discounts_e4), SUM(refunded_e4), SUM(units), SUM(total_e4), SUM(cancelled_count), SUM(cancelled_e4)
    FROM order_sales_15m GROUP BY 1, 2, 3, 4;

CREATE OR REPLACE FUNCTION order_sales_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4, discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4, units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4, cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
        INSERT INTO order_sales_1h AS s (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        SELECT organization_id, created_at - created_at % 3600000, shop_id, currency,
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
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4, discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4, units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4, cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
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
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4, discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4, units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4, cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
        INSERT INTO order_sales_1h AS s (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        SELECT organization_id, created_at - created_at % 3600000, shop_id, currency,
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
        order_count = s.order_count + excluded.order_count, gross_e4 = s.gross_e4 + excluded.gross_e4, discounts_e4 = s.discounts_e4 + excluded.discounts_e4, refunded_e4 = s.refunded_e4 + excluded.refunded_e4, units = s.units + excluded.units, total_e4 = s.total_e4 + excluded.total_e4, cancelled_count = s.cancelled_count + excluded.cancelled_count, cancelled_e4 = s.cancelled_e4 + excluded.cancelled_e4;
    END IF;
    RETURN NULL;
END;
$$;
