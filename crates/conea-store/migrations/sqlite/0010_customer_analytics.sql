-- Customer analytics: each customer's lifetime sales per currency (`customer_sales`) and per
-- UTC month (`customer_months`), over their orders that are not cancelled; net sales are gross
-- less discounts and refunds. Triggers on `orders` keep them as orders are written:
-- - counts and sums by increments (an update takes the old version out, puts the new in);
-- - the first and last order by LEAST/GREATEST as orders arrive; when an order that was a
--   customer's first or last goes (updated, cancelled, moved or deleted), that customer's row
--   is recomputed from their orders (the `orders_read_customer` index of 0008 finds them),
--   since a minimum cannot be taken back by an increment.
-- On PostgreSQL the triggers run once per statement over the transition tables, and a
-- transaction-scoped advisory lock per customer orders concurrent writers of a customer.
CREATE TABLE customer_sales (
    organization_id     TEXT NOT NULL,
    shop_id             TEXT NOT NULL,
    customer_source_id  BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    order_count         BIGINT NOT NULL,
    net_e4              BIGINT NOT NULL,
    -- The first order (ties: the lower order id), its net sales and UTC month
    -- (year * 12 + month - 1): the customer's acquisition cohort.
    first_order_at      BIGINT NOT NULL,
    first_order_id      BIGINT NOT NULL,
    first_order_net_e4  BIGINT NOT NULL,
    first_month         BIGINT NOT NULL,
    last_order_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, shop_id, customer_source_id, currency)
);
CREATE INDEX customer_sales_first_order ON customer_sales (organization_id, first_order_at);

-- Rows whose count went to 0 stay (readers skip them).
CREATE TABLE customer_months (
    organization_id     TEXT NOT NULL,
    shop_id             TEXT NOT NULL,
    customer_source_id  BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    month               BIGINT NOT NULL,
    order_count         BIGINT NOT NULL,
    net_e4              BIGINT NOT NULL,
    PRIMARY KEY (organization_id, shop_id, customer_source_id, currency, month)
);

INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4),
            MIN(o.created_at),
            (SELECT f.source_id FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1), MAX(o.created_at)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL
        GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER orders_customers_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT NEW.organization_id, NEW.shop_id, NEW.customer_source_id, NEW.currency, 1, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4,
               NEW.created_at, NEW.source_id, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.created_at
        WHERE NEW.customer_source_id IS NOT NULL AND NEW.cancelled_at IS NULL
        ON CONFLICT (organization_id, shop_id, customer_source_id, currency) DO UPDATE SET
            order_count = order_count + excluded.order_count,
            net_e4 = net_e4 + excluded.net_e4,
            last_order_at = MAX(last_order_at, excluded.last_order_at),
            first_order_at = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_at ELSE first_order_at END,
            first_order_id = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_id ELSE first_order_id END,
            first_order_net_e4 = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_net_e4 ELSE first_order_net_e4 END,
            first_month = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_month ELSE first_month END;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT NEW.organization_id, NEW.shop_id, NEW.customer_source_id, NEW.currency, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), 1, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4
        WHERE NEW.customer_source_id IS NOT NULL AND NEW.cancelled_at IS NULL
        ON CONFLICT (organization_id, shop_id, customer_source_id, currency, month) DO UPDATE SET
            order_count = order_count + excluded.order_count, net_e4 = net_e4 + excluded.net_e4;
END;
CREATE TRIGGER orders_customers_update AFTER UPDATE ON orders
BEGIN
    UPDATE customer_sales SET order_count = order_count - 1, net_e4 = net_e4 - (OLD.gross_e4 - OLD.discounts_e4 - OLD.refunded_e4)
        WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL;
    UPDATE customer_months SET order_count = order_count - 1, net_e4 = net_e4 - (OLD.gross_e4 - OLD.discounts_e4 - OLD.refunded_e4)
        WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND month = (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1) AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT NEW.organization_id, NEW.shop_id, NEW.customer_source_id, NEW.currency, 1, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4,
               NEW.created_at, NEW.source_id, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.created_at
        WHERE NEW.customer_source_id IS NOT NULL AND NEW.cancelled_at IS NULL
        ON CONFLICT (organization_id, shop_id, customer_source_id, currency) DO UPDATE SET
            order_count = order_count + excluded.order_count,
            net_e4 = net_e4 + excluded.net_e4,
            last_order_at = MAX(last_order_at, excluded.last_order_at),
            first_order_at = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_at ELSE first_order_at END,
            first_order_id = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_id ELSE first_order_id END,
            first_order_net_e4 = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_order_net_e4 ELSE first_order_net_e4 END,
            first_month = CASE WHEN (excluded.first_order_at < first_order_at OR (excluded.first_order_at = first_order_at AND excluded.first_order_id < first_order_id)) THEN excluded.first_month ELSE first_month END;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT NEW.organization_id, NEW.shop_id, NEW.customer_source_id, NEW.currency, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), 1, NEW.gross_e4 - NEW.discounts_e4 - NEW.refunded_e4
        WHERE NEW.customer_source_id IS NOT NULL AND NEW.cancelled_at IS NULL
        ON CONFLICT (organization_id, shop_id, customer_source_id, currency, month) DO UPDATE SET
            order_count = order_count + excluded.order_count, net_e4 = net_e4 + excluded.net_e4;
    DELETE FROM customer_sales WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL
        AND (order_count <= 0 OR OLD.created_at < first_order_at
             OR (OLD.created_at = first_order_at AND OLD.source_id <= first_order_id)
             OR OLD.created_at >= last_order_at);
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4),
            MIN(o.created_at),
            (SELECT f.source_id FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1), MAX(o.created_at)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.shop_id = OLD.shop_id AND o.customer_source_id = OLD.customer_source_id AND o.currency = OLD.currency AND NOT EXISTS (SELECT 1 FROM customer_sales c WHERE c.organization_id = OLD.organization_id AND c.shop_id = OLD.shop_id AND c.customer_source_id = OLD.customer_source_id AND c.currency = OLD.currency)
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
END;
CREATE TRIGGER orders_customers_delete AFTER DELETE ON orders
BEGIN
    UPDATE customer_sales SET order_count = order_count - 1, net_e4 = net_e4 - (OLD.gross_e4 - OLD.discounts_e4 - OLD.refunded_e4)
        WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL;
    UPDATE customer_months SET order_count = order_count - 1, net_e4 = net_e4 - (OLD.gross_e4 - OLD.discounts_e4 - OLD.refunded_e4)
        WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND month = (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1) AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL;
    DELETE FROM customer_sales WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id AND currency = OLD.currency AND OLD.customer_source_id IS NOT NULL AND OLD.cancelled_at IS NULL
        AND (order_count <= 0 OR OLD.created_at < first_order_at
             OR (OLD.created_at = first_order_at AND OLD.source_id <= first_order_id)
             OR OLD.created_at >= last_order_at);
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4),
            MIN(o.created_at),
            (SELECT f.source_id FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1), MAX(o.created_at)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.shop_id = OLD.shop_id AND o.customer_source_id = OLD.customer_source_id AND o.currency = OLD.currency AND NOT EXISTS (SELECT 1 FROM customer_sales c WHERE c.organization_id = OLD.organization_id AND c.shop_id = OLD.shop_id AND c.customer_source_id = OLD.customer_source_id AND c.currency = OLD.currency)
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
END;
