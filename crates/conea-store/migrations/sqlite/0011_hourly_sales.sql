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

DROP TRIGGER orders_sales_insert;
DROP TRIGGER orders_sales_update;
DROP TRIGGER orders_sales_delete;
CREATE TRIGGER orders_sales_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id,
            NEW.created_at - NEW.created_at % 900000,
            NEW.shop_id,
            NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_1h (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id,
            NEW.created_at - NEW.created_at % 3600000,
            NEW.shop_id,
            NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
CREATE TRIGGER orders_sales_update AFTER UPDATE ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id,
            OLD.created_at - OLD.created_at % 900000,
            OLD.shop_id,
            OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_1h (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id,
            OLD.created_at - OLD.created_at % 3600000,
            OLD.shop_id,
            OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id,
            NEW.created_at - NEW.created_at % 900000,
            NEW.shop_id,
            NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_1h (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (NEW.organization_id,
            NEW.created_at - NEW.created_at % 3600000,
            NEW.shop_id,
            NEW.currency,
            CASE WHEN NEW.cancelled_at IS NULL THEN 1 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.gross_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.discounts_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.refunded_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.units ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN NEW.total_price_e4 ELSE 0 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE 1 END,
            CASE WHEN NEW.cancelled_at IS NULL THEN 0 ELSE NEW.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
CREATE TRIGGER orders_sales_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO order_sales_15m (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id,
            OLD.created_at - OLD.created_at % 900000,
            OLD.shop_id,
            OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
    INSERT INTO order_sales_1h (organization_id, bucket, shop_id, currency, order_count, gross_e4, discounts_e4, refunded_e4, units, total_e4, cancelled_count, cancelled_e4)
        VALUES (OLD.organization_id,
            OLD.created_at - OLD.created_at % 3600000,
            OLD.shop_id,
            OLD.currency,
            CASE WHEN OLD.cancelled_at IS NULL THEN -1 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.gross_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.discounts_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.refunded_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.units ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN -OLD.total_price_e4 ELSE 0 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -1 END,
            CASE WHEN OLD.cancelled_at IS NULL THEN 0 ELSE -OLD.total_price_e4 END)
        ON CONFLICT (organization_id, bucket, shop_id, currency) DO UPDATE SET
        order_count = order_count + excluded.order_count, gross_e4 = gross_e4 + excluded.gross_e4, discounts_e4 = discounts_e4 + excluded.discounts_e4, refunded_e4 = refunded_e4 + excluded.refunded_e4, units = units + excluded.units, total_e4 = total_e4 + excluded.total_e4, cancelled_count = cancelled_count + excluded.cancelled_count, cancelled_e4 = cancelled_e4 + excluded.cancelled_e4;
END;
