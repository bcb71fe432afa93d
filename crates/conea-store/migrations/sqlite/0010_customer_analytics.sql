-- Customer analytics: each customer's lifetime sales per currency (`customer_sales`) and per
-- UTC month (`customer_months`), over their orders that are not cancelled. Triggers on
-- `orders` recompute the rows of every customer a write touched from that customer's orders
-- (the `orders_read_customer` index of 0008 finds them), so the figures stay exact under
-- updates, cancellations, moves and deletions; min/max (first and last order) could not be
-- kept by increments. Net sales: gross less discounts and refunds.
CREATE TABLE customer_sales (
    organization_id     TEXT NOT NULL,
    shop_id             TEXT NOT NULL,
    customer_source_id  BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    order_count         BIGINT NOT NULL,
    net_e4              BIGINT NOT NULL,
    first_order_at      BIGINT NOT NULL,
    last_order_at       BIGINT NOT NULL,
    -- The net sales of the first order (ties: the lower order id), and its UTC month
    -- (year * 12 + month - 1): the customer's acquisition cohort.
    first_order_net_e4  BIGINT NOT NULL,
    first_month         BIGINT NOT NULL,
    PRIMARY KEY (organization_id, shop_id, customer_source_id, currency)
);

CREATE TABLE customer_months (
    organization_id     TEXT NOT NULL,
    shop_id             TEXT NOT NULL,
    customer_source_id  BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    -- UTC year * 12 + month - 1.
    month               BIGINT NOT NULL,
    order_count         BIGINT NOT NULL,
    net_e4              BIGINT NOT NULL,
    PRIMARY KEY (organization_id, shop_id, customer_source_id, currency, month)
);

INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY 1, 2, 3, 4, 5;

CREATE TRIGGER orders_customers_insert AFTER INSERT ON orders WHEN NEW.customer_source_id IS NOT NULL
BEGIN
    DELETE FROM customer_sales WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id AND customer_source_id = NEW.customer_source_id;
    DELETE FROM customer_months WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id AND customer_source_id = NEW.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = NEW.organization_id AND o.customer_source_id = NEW.customer_source_id AND o.shop_id = NEW.shop_id
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = NEW.organization_id AND o.customer_source_id = NEW.customer_source_id AND o.shop_id = NEW.shop_id
        GROUP BY 1, 2, 3, 4, 5;
END;
CREATE TRIGGER orders_customers_update_old AFTER UPDATE ON orders WHEN OLD.customer_source_id IS NOT NULL
    AND (NEW.customer_source_id IS NULL OR NEW.customer_source_id <> OLD.customer_source_id OR NEW.shop_id <> OLD.shop_id)
BEGIN
    DELETE FROM customer_sales WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id;
    DELETE FROM customer_months WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.customer_source_id = OLD.customer_source_id AND o.shop_id = OLD.shop_id
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.customer_source_id = OLD.customer_source_id AND o.shop_id = OLD.shop_id
        GROUP BY 1, 2, 3, 4, 5;
END;
CREATE TRIGGER orders_customers_update AFTER UPDATE ON orders WHEN NEW.customer_source_id IS NOT NULL
BEGIN
    DELETE FROM customer_sales WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id AND customer_source_id = NEW.customer_source_id;
    DELETE FROM customer_months WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id AND customer_source_id = NEW.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = NEW.organization_id AND o.customer_source_id = NEW.customer_source_id AND o.shop_id = NEW.shop_id
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = NEW.organization_id AND o.customer_source_id = NEW.customer_source_id AND o.shop_id = NEW.shop_id
        GROUP BY 1, 2, 3, 4, 5;
END;
CREATE TRIGGER orders_customers_delete AFTER DELETE ON orders WHEN OLD.customer_source_id IS NOT NULL
BEGIN
    DELETE FROM customer_sales WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id;
    DELETE FROM customer_months WHERE organization_id = OLD.organization_id AND shop_id = OLD.shop_id AND customer_source_id = OLD.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (CAST(strftime('%Y', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', MIN(o.created_at) / 1000, 'unixepoch') AS INTEGER) - 1)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.customer_source_id = OLD.customer_source_id AND o.shop_id = OLD.shop_id
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL AND o.organization_id = OLD.organization_id AND o.customer_source_id = OLD.customer_source_id AND o.shop_id = OLD.shop_id
        GROUP BY 1, 2, 3, 4, 5;
END;

CREATE INDEX customer_sales_first_order ON customer_sales (organization_id, first_order_at);
