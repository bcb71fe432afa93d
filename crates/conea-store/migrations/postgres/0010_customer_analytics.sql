-- Customer analytics: each customer's lifetime sales per currency (`customer_sales`) and per
-- UTC month (`customer_months`), over their orders that are not cancelled. Triggers on
-- `orders` recompute the rows of every customer a write touched from that customer's orders
-- (the `orders_read_customer` index of 0008 finds them), so the figures stay exact under
-- updates, cancellations, moves and deletions; min/max (first and last order) could not be
-- kept by increments. On PostgreSQL a transaction-scoped advisory lock per customer orders
-- concurrent writers of the same customer. Net sales: gross less discounts and refunds.
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
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION customer_sales_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per customer at a time (concurrent batches may share customers): each
    -- statement below then sees the other writer's committed orders.
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    -- The customers this statement touched are recomputed from their orders.
    DELETE FROM customer_sales c USING (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    DELETE FROM customer_months c USING (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint
        FROM orders o JOIN (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o JOIN (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_insert();

CREATE FUNCTION customer_sales_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per customer at a time (concurrent batches may share customers): each
    -- statement below then sees the other writer's committed orders.
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL
              UNION SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    -- The customers this statement touched are recomputed from their orders.
    DELETE FROM customer_sales c USING (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL
              UNION SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    DELETE FROM customer_months c USING (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL
              UNION SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint
        FROM orders o JOIN (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL
              UNION SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o JOIN (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL
              UNION SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_update();

CREATE FUNCTION customer_sales_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One writer per customer at a time (concurrent batches may share customers): each
    -- statement below then sees the other writer's committed orders.
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    -- The customers this statement touched are recomputed from their orders.
    DELETE FROM customer_sales c USING (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    DELETE FROM customer_months c USING (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t
        WHERE c.organization_id = t.organization_id AND c.shop_id = t.shop_id AND c.customer_source_id = t.customer_source_id;
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, last_order_at, first_order_net_e4, first_month)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4), MIN(o.created_at), MAX(o.created_at),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f
             WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL
             ORDER BY f.created_at, f.source_id LIMIT 1),
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint
        FROM orders o JOIN (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o JOIN (SELECT DISTINCT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ON o.organization_id = t.organization_id AND o.customer_source_id = t.customer_source_id AND o.shop_id = t.shop_id WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_delete();


CREATE INDEX customer_sales_first_order ON customer_sales (organization_id, first_order_at);
