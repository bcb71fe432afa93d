-- product_performance: each product's and variant's sales summed per UTC month and per UTC
-- year as line items and orders are written (`product_sales_months`, `product_sales_years`),
-- so a range is read as sums corrected at its ends by a little of the line items (each
-- statement's month rows are written, then the same rows summed per year).
-- A line item counts while it and its order exist and the order is not cancelled; `order_count`
-- counts each order once per product (and once per variant) however many lines it has of it,
-- `refunded_count` those of them with a refund. Kept exact by two statement-level triggers:
-- one on the line items (a line's order comes in with the first line of its key in that order
-- and leaves with the last), one on the orders (an order whose month, currency, cancellation or
-- refund flag changes moves its lines' contributions).
CREATE FUNCTION conea_utc_month(ms BIGINT) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT (EXTRACT(YEAR FROM to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC') * 12
          + EXTRACT(MONTH FROM to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC') - 1)::bigint
$$;

CREATE TABLE product_sales_months (
    organization_id  TEXT NOT NULL,
    -- UTC month: year * 12 + month - 1.
    month            BIGINT NOT NULL,
    shop_id          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    -- The product's id, or -1 for lines without a product (keyed by `line_title` instead).
    product_id       BIGINT NOT NULL,
    -- The variant's id, or -1 for the product's own row.
    variant_id       BIGINT NOT NULL,
    -- The line title of a line without a product, '' otherwise.
    line_title       TEXT NOT NULL,
    -- The greatest line title and SKU written (shown when the product is not stored).
    title            TEXT NOT NULL,
    sku              TEXT,
    units            BIGINT NOT NULL,
    revenue_e4       BIGINT NOT NULL,
    order_count      BIGINT NOT NULL,
    refunded_count   BIGINT NOT NULL,
    PRIMARY KEY (organization_id, month, shop_id, currency, product_id, variant_id, line_title)
);

CREATE TABLE product_sales_years (
    organization_id  TEXT NOT NULL,
    -- UTC year.
    year             BIGINT NOT NULL,
    shop_id          TEXT NOT NULL,
    currency         TEXT NOT NULL,
    product_id       BIGINT NOT NULL,
    variant_id       BIGINT NOT NULL,
    line_title       TEXT NOT NULL,
    title            TEXT NOT NULL,
    sku              TEXT,
    units            BIGINT NOT NULL,
    revenue_e4       BIGINT NOT NULL,
    order_count      BIGINT NOT NULL,
    refunded_count   BIGINT NOT NULL,
    PRIMARY KEY (organization_id, year, shop_id, currency, product_id, variant_id, line_title)
);

INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, conea_utc_month(o.created_at), o.shop_id, o.currency,
           COALESCE(li.product_source_id, -1), -1, CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END,
           MAX(li.title), MAX(li.sku), SUM(li.quantity), SUM(li.quantity * li.price_e4),
           COUNT(DISTINCT o.source_id), COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END)
    FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id
    WHERE o.cancelled_at IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, conea_utc_month(o.created_at), o.shop_id, o.currency,
           li.product_source_id, li.variant_source_id, '',
           MAX(li.title), MAX(li.sku), SUM(li.quantity), SUM(li.quantity * li.price_e4),
           COUNT(DISTINCT o.source_id), COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END)
    FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id
    WHERE o.cancelled_at IS NULL AND li.product_source_id IS NOT NULL AND li.variant_source_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT organization_id, month / 12, shop_id, currency, product_id, variant_id, line_title,
           MAX(title), MAX(sku), SUM(units), SUM(revenue_e4), SUM(order_count), SUM(refunded_count)
    FROM product_sales_months GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- The line items a statement wrote (sign 1) or removed (sign -1), per order and key; joined to
-- their order, and counted against the lines of the same key the order holds now: the order
-- is newly counted when it holds some now and held none before (now - the change), and no
-- longer counted in the reverse case. Transition tables are visible to dynamic SQL, which
-- lets one statement serve the three events.
CREATE FUNCTION product_sales_lines_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols CONSTANT TEXT := 'shop_id, order_source_id, product_source_id, variant_source_id, title, sku, quantity, price_e4';
    changed TEXT;
BEGIN
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows', cols)
        WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows', cols)
        ELSE format('SELECT %s, -1 AS sign FROM old_rows UNION ALL SELECT %s, 1 FROM new_rows', cols, cols)
    END;
    EXECUTE format($sql$
        WITH c AS (%s),
        k AS (
            SELECT shop_id, order_source_id, COALESCE(product_source_id, -1) AS product_id, -1::bigint AS variant_id,
                   CASE WHEN product_source_id IS NULL THEN title ELSE '' END AS line_title,
                   MAX(title) AS title, MAX(sku) AS sku, SUM(sign * quantity) AS units,
                   SUM(sign * quantity * price_e4) AS revenue, SUM(sign) AS lines
            FROM c GROUP BY 1, 2, 3, 4, 5
            UNION ALL
            SELECT shop_id, order_source_id, product_source_id, variant_source_id, '',
                   MAX(title), MAX(sku), SUM(sign * quantity), SUM(sign * quantity * price_e4), SUM(sign)
            FROM c WHERE product_source_id IS NOT NULL AND variant_source_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5
        ),
        d AS (
            SELECT k.*, (SELECT COUNT(*) FROM order_line_items x
                         WHERE x.shop_id = k.shop_id AND x.order_source_id = k.order_source_id
                           AND CASE WHEN k.variant_id <> -1 THEN x.product_source_id = k.product_id AND x.variant_source_id = k.variant_id
                                    WHEN k.product_id <> -1 THEN x.product_source_id = k.product_id
                                    ELSE x.product_source_id IS NULL AND x.title = k.line_title END) AS now_lines
            FROM k
        ),
        r (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count) AS (
        SELECT o.organization_id, conea_utc_month(o.created_at), o.shop_id, o.currency, d.product_id, d.variant_id, d.line_title,
               MAX(d.title), MAX(d.sku), SUM(d.units), SUM(d.revenue),
               SUM((d.now_lines > 0)::int - (d.now_lines - d.lines > 0)::int),
               SUM(CASE WHEN o.refunded_e4 > 0 THEN (d.now_lines > 0)::int - (d.now_lines - d.lines > 0)::int ELSE 0 END)
        FROM d JOIN orders o ON o.shop_id = d.shop_id AND o.source_id = d.order_source_id
        WHERE o.cancelled_at IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ),
        m AS (
        INSERT INTO product_sales_months AS s (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
        SELECT * FROM r
        ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
            title = GREATEST(s.title, excluded.title), sku = GREATEST(s.sku, excluded.sku),
            units = s.units + excluded.units, revenue_e4 = s.revenue_e4 + excluded.revenue_e4,
            order_count = s.order_count + excluded.order_count, refunded_count = s.refunded_count + excluded.refunded_count
        RETURNING 1
        )
        INSERT INTO product_sales_years AS s (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
        SELECT organization_id, month / 12, shop_id, currency, product_id, variant_id, line_title,
               MAX(title), MAX(sku), SUM(units), SUM(revenue_e4), SUM(order_count), SUM(refunded_count)
        FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
            title = GREATEST(s.title, excluded.title), sku = GREATEST(s.sku, excluded.sku),
            units = s.units + excluded.units, revenue_e4 = s.revenue_e4 + excluded.revenue_e4,
            order_count = s.order_count + excluded.order_count, refunded_count = s.refunded_count + excluded.refunded_count
    $sql$, changed);
    RETURN NULL;
END;
$$;

CREATE TRIGGER line_items_product_sales_insert AFTER INSERT ON order_line_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_lines_apply();
CREATE TRIGGER line_items_product_sales_update AFTER UPDATE ON order_line_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_lines_apply();
CREATE TRIGGER line_items_product_sales_delete AFTER DELETE ON order_line_items
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_lines_apply();

-- Orders written (sign 1) or removed (sign -1) with the lines they hold now; an update counts
-- only when it moves the lines (organization, month, currency, cancellation, refund flag):
-- the old state leaves, the new one comes in.
CREATE FUNCTION product_sales_orders_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols CONSTANT TEXT := 'shop_id, source_id, organization_id, created_at, currency, cancelled_at, refunded_e4';
    moved CONSTANT TEXT := 'o.organization_id IS DISTINCT FROM n.organization_id OR conea_utc_month(o.created_at) <> conea_utc_month(n.created_at) '
        'OR o.currency IS DISTINCT FROM n.currency OR (o.cancelled_at IS NULL) <> (n.cancelled_at IS NULL) OR (o.refunded_e4 > 0) <> (n.refunded_e4 > 0)';
    changed TEXT;
BEGIN
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE cancelled_at IS NULL', cols)
        WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE cancelled_at IS NULL', cols)
        ELSE format('SELECT o.*, -1 AS sign FROM (SELECT %s FROM old_rows) o JOIN new_rows n USING (shop_id, source_id) WHERE o.cancelled_at IS NULL AND (%s) '
                    'UNION ALL SELECT n.*, 1 FROM (SELECT %s FROM new_rows) n JOIN old_rows o USING (shop_id, source_id) WHERE n.cancelled_at IS NULL AND (%s)',
                    cols, moved, cols, moved)
    END;
    EXECUTE format($sql$
        WITH c AS (%s),
        r (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count) AS (
        SELECT c.organization_id, conea_utc_month(c.created_at), c.shop_id, c.currency, k.product_id, k.variant_id, k.line_title,
               MAX(k.title), MAX(k.sku), SUM(c.sign * k.units), SUM(c.sign * k.revenue), SUM(c.sign),
               SUM(CASE WHEN c.refunded_e4 > 0 THEN c.sign ELSE 0 END)
        FROM c CROSS JOIN LATERAL (
            SELECT COALESCE(x.product_source_id, -1) AS product_id, -1::bigint AS variant_id,
                   CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END AS line_title,
                   MAX(x.title) AS title, MAX(x.sku) AS sku, SUM(x.quantity) AS units, SUM(x.quantity * x.price_e4) AS revenue
            FROM order_line_items x WHERE x.shop_id = c.shop_id AND x.order_source_id = c.source_id GROUP BY 1, 2, 3
            UNION ALL
            SELECT x.product_source_id, x.variant_source_id, '', MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4)
            FROM order_line_items x WHERE x.shop_id = c.shop_id AND x.order_source_id = c.source_id
              AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL GROUP BY 1, 2, 3
        ) k
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ),
        m AS (
        INSERT INTO product_sales_months AS s (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
        SELECT * FROM r
        ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
            title = GREATEST(s.title, excluded.title), sku = GREATEST(s.sku, excluded.sku),
            units = s.units + excluded.units, revenue_e4 = s.revenue_e4 + excluded.revenue_e4,
            order_count = s.order_count + excluded.order_count, refunded_count = s.refunded_count + excluded.refunded_count
        RETURNING 1
        )
        INSERT INTO product_sales_years AS s (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
        SELECT organization_id, month / 12, shop_id, currency, product_id, variant_id, line_title,
               MAX(title), MAX(sku), SUM(units), SUM(revenue_e4), SUM(order_count), SUM(refunded_count)
        FROM r GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
            title = GREATEST(s.title, excluded.title), sku = GREATEST(s.sku, excluded.sku),
            units = s.units + excluded.units, revenue_e4 = s.revenue_e4 + excluded.revenue_e4,
            order_count = s.order_count + excluded.order_count, refunded_count = s.refunded_count + excluded.refunded_count
    $sql$, changed);
    RETURN NULL;
END;
$$;

CREATE TRIGGER orders_product_sales_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_orders_apply();
CREATE TRIGGER orders_product_sales_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_orders_apply();
CREATE TRIGGER orders_product_sales_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_sales_orders_apply();
