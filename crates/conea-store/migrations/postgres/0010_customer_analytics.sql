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
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, MAX(o.created_at)
        FROM orders o  WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
INSERT INTO customer_months (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, (EXTRACT(YEAR FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(o.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4)
        FROM orders o WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL
        GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION customer_sales_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    INSERT INTO customer_sales AS s (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
    SELECT g.organization_id, g.shop_id, g.customer_source_id, g.currency, g.n, g.net,
           f.created_at, f.source_id, f.net, (EXTRACT(YEAR FROM to_timestamp(f.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(f.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, g.last
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net, MAX(created_at) AS last
          FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4) g
    JOIN (SELECT DISTINCT ON (organization_id, shop_id, customer_source_id, currency) organization_id, shop_id, customer_source_id, currency, created_at, source_id, gross_e4 - discounts_e4 - refunded_e4 AS net
          FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL ORDER BY organization_id, shop_id, customer_source_id, currency, created_at, source_id) f
      USING (organization_id, shop_id, customer_source_id, currency)
    ON CONFLICT (organization_id, shop_id, customer_source_id, currency) DO UPDATE SET
        order_count = s.order_count + excluded.order_count,
        net_e4 = s.net_e4 + excluded.net_e4,
        last_order_at = GREATEST(s.last_order_at, excluded.last_order_at),
        first_order_at = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_at ELSE s.first_order_at END,
        first_order_id = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_id ELSE s.first_order_id END,
        first_order_net_e4 = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_net_e4 ELSE s.first_order_net_e4 END,
        first_month = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_month ELSE s.first_month END;
    INSERT INTO customer_months AS m (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
    SELECT organization_id, shop_id, customer_source_id, currency, (EXTRACT(YEAR FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(gross_e4 - discounts_e4 - refunded_e4) FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (organization_id, shop_id, customer_source_id, currency, month) DO UPDATE SET
        order_count = m.order_count + excluded.order_count, net_e4 = m.net_e4 + excluded.net_e4;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_insert();

CREATE FUNCTION customer_sales_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL UNION SELECT organization_id, shop_id, customer_source_id FROM new_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    UPDATE customer_sales s SET order_count = s.order_count - d.n, net_e4 = s.net_e4 - d.net
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4) d
    WHERE s.organization_id = d.organization_id AND s.shop_id = d.shop_id
      AND s.customer_source_id = d.customer_source_id AND s.currency = d.currency;
    UPDATE customer_months m SET order_count = m.order_count - d.n, net_e4 = m.net_e4 - d.net
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, (EXTRACT(YEAR FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint AS month, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net
          FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4, 5) d
    WHERE m.organization_id = d.organization_id AND m.shop_id = d.shop_id
      AND m.customer_source_id = d.customer_source_id AND m.currency = d.currency AND m.month = d.month;
    INSERT INTO customer_sales AS s (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
    SELECT g.organization_id, g.shop_id, g.customer_source_id, g.currency, g.n, g.net,
           f.created_at, f.source_id, f.net, (EXTRACT(YEAR FROM to_timestamp(f.created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(f.created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, g.last
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net, MAX(created_at) AS last
          FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4) g
    JOIN (SELECT DISTINCT ON (organization_id, shop_id, customer_source_id, currency) organization_id, shop_id, customer_source_id, currency, created_at, source_id, gross_e4 - discounts_e4 - refunded_e4 AS net
          FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL ORDER BY organization_id, shop_id, customer_source_id, currency, created_at, source_id) f
      USING (organization_id, shop_id, customer_source_id, currency)
    ON CONFLICT (organization_id, shop_id, customer_source_id, currency) DO UPDATE SET
        order_count = s.order_count + excluded.order_count,
        net_e4 = s.net_e4 + excluded.net_e4,
        last_order_at = GREATEST(s.last_order_at, excluded.last_order_at),
        first_order_at = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_at ELSE s.first_order_at END,
        first_order_id = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_id ELSE s.first_order_id END,
        first_order_net_e4 = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_order_net_e4 ELSE s.first_order_net_e4 END,
        first_month = CASE WHEN (excluded.first_order_at, excluded.first_order_id) < (s.first_order_at, s.first_order_id) THEN excluded.first_month ELSE s.first_month END;
    INSERT INTO customer_months AS m (organization_id, shop_id, customer_source_id, currency, month, order_count, net_e4)
    SELECT organization_id, shop_id, customer_source_id, currency, (EXTRACT(YEAR FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, COUNT(*), SUM(gross_e4 - discounts_e4 - refunded_e4) FROM new_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (organization_id, shop_id, customer_source_id, currency, month) DO UPDATE SET
        order_count = m.order_count + excluded.order_count, net_e4 = m.net_e4 + excluded.net_e4;
    -- A customer whose first or last order went (or who has none left): recomputed.
    WITH gone AS (
        DELETE FROM customer_sales s USING (SELECT DISTINCT organization_id, shop_id, customer_source_id, currency, created_at, source_id FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL) o
        WHERE s.organization_id = o.organization_id AND s.shop_id = o.shop_id
          AND s.customer_source_id = o.customer_source_id AND s.currency = o.currency
          AND (s.order_count <= 0 OR (o.created_at, o.source_id) <= (s.first_order_at, s.first_order_id)
               OR o.created_at >= s.last_order_at)
        RETURNING s.organization_id, s.shop_id, s.customer_source_id, s.currency)
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4),
            MIN(o.created_at),
            (SELECT f.source_id FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, MAX(o.created_at)
        FROM orders o JOIN (SELECT DISTINCT * FROM gone) r ON o.organization_id = r.organization_id AND o.customer_source_id = r.customer_source_id AND o.shop_id = r.shop_id AND o.currency = r.currency WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_update();

CREATE FUNCTION customer_sales_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t.organization_id || ':' || t.shop_id || ':' || t.customer_source_id, 7) AS k
        FROM (SELECT organization_id, shop_id, customer_source_id FROM old_rows WHERE customer_source_id IS NOT NULL) t ORDER BY k) l;
    UPDATE customer_sales s SET order_count = s.order_count - d.n, net_e4 = s.net_e4 - d.net
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4) d
    WHERE s.organization_id = d.organization_id AND s.shop_id = d.shop_id
      AND s.customer_source_id = d.customer_source_id AND s.currency = d.currency;
    UPDATE customer_months m SET order_count = m.order_count - d.n, net_e4 = m.net_e4 - d.net
    FROM (SELECT organization_id, shop_id, customer_source_id, currency, (EXTRACT(YEAR FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint AS month, COUNT(*) AS n, SUM(gross_e4 - discounts_e4 - refunded_e4) AS net
          FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL GROUP BY 1, 2, 3, 4, 5) d
    WHERE m.organization_id = d.organization_id AND m.shop_id = d.shop_id
      AND m.customer_source_id = d.customer_source_id AND m.currency = d.currency AND m.month = d.month;
    -- A customer whose first or last order went (or who has none left): recomputed.
    WITH gone AS (
        DELETE FROM customer_sales s USING (SELECT DISTINCT organization_id, shop_id, customer_source_id, currency, created_at, source_id FROM old_rows WHERE customer_source_id IS NOT NULL AND cancelled_at IS NULL) o
        WHERE s.organization_id = o.organization_id AND s.shop_id = o.shop_id
          AND s.customer_source_id = o.customer_source_id AND s.currency = o.currency
          AND (s.order_count <= 0 OR (o.created_at, o.source_id) <= (s.first_order_at, s.first_order_id)
               OR o.created_at >= s.last_order_at)
        RETURNING s.organization_id, s.shop_id, s.customer_source_id, s.currency)
    INSERT INTO customer_sales (organization_id, shop_id, customer_source_id, currency, order_count, net_e4, first_order_at, first_order_id, first_order_net_e4, first_month, last_order_at)
        SELECT o.organization_id, o.shop_id, o.customer_source_id, o.currency, COUNT(*), SUM(o.gross_e4 - o.discounts_e4 - o.refunded_e4),
            MIN(o.created_at),
            (SELECT f.source_id FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (SELECT f.gross_e4 - f.discounts_e4 - f.refunded_e4 FROM orders f WHERE f.organization_id = o.organization_id AND f.customer_source_id = o.customer_source_id
               AND f.shop_id = o.shop_id AND f.currency = o.currency AND f.cancelled_at IS NULL ORDER BY f.created_at, f.source_id LIMIT 1),
            (EXTRACT(YEAR FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') * 12 + EXTRACT(MONTH FROM to_timestamp(MIN(o.created_at) / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint, MAX(o.created_at)
        FROM orders o JOIN (SELECT DISTINCT * FROM gone) r ON o.organization_id = r.organization_id AND o.customer_source_id = r.customer_source_id AND o.shop_id = r.shop_id AND o.currency = r.currency WHERE o.customer_source_id IS NOT NULL AND o.cancelled_at IS NULL 
        GROUP BY o.organization_id, o.shop_id, o.customer_source_id, o.currency;
    RETURN NULL;
END;
$$;
CREATE TRIGGER orders_customers_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_delete();

