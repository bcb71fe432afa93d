-- product_performance: each product's and variant's sales summed per UTC month and per UTC
-- year as line items and orders are written (`product_sales_months`, `product_sales_years`),
-- so a range is read as sums corrected at its ends by a little of the line items.
-- A line item counts while it and its order exist and the order is not cancelled; `order_count`
-- counts each order once per product (and once per variant) however many lines it has of it,
-- `refunded_count` those of them with a refund. Row-level triggers (SQLite has no others): a
-- line brings its order in when it is the first line of its key in that order and takes it
-- out when it is the last (counted while the line is in the table: after an insert, before a
-- delete); an order whose month, currency, cancellation or refund flag changes moves its
-- lines' contributions.
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

INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1),
           o.shop_id, o.currency, COALESCE(li.product_source_id, -1), -1, CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END,
           MAX(li.title), MAX(li.sku), SUM(li.quantity), SUM(li.quantity * li.price_e4),
           COUNT(DISTINCT o.source_id), COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END)
    FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id
    WHERE o.cancelled_at IS NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1),
           o.shop_id, o.currency, li.product_source_id, li.variant_source_id, '',
           MAX(li.title), MAX(li.sku), SUM(li.quantity), SUM(li.quantity * li.price_e4),
           COUNT(DISTINCT o.source_id), COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END)
    FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id
    WHERE o.cancelled_at IS NULL AND li.product_source_id IS NOT NULL AND li.variant_source_id IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

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

INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT organization_id, month / 12, shop_id, currency, product_id, variant_id, line_title,
           MAX(title), MAX(sku), SUM(units), SUM(revenue_e4), SUM(order_count), SUM(refunded_count)
    FROM product_sales_months GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TRIGGER line_items_product_sales_insert AFTER INSERT ON order_line_items
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, COALESCE(NEW.product_source_id, -1), -1, CASE WHEN NEW.product_source_id IS NULL THEN NEW.title ELSE '' END,
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id IS NEW.product_source_id AND (NEW.product_source_id IS NOT NULL OR x.title = NEW.title)) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, COALESCE(NEW.product_source_id, -1), -1, CASE WHEN NEW.product_source_id IS NULL THEN NEW.title ELSE '' END,
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id IS NEW.product_source_id AND (NEW.product_source_id IS NOT NULL OR x.title = NEW.title)) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, NEW.product_source_id, NEW.variant_source_id, '',
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id = NEW.product_source_id AND x.variant_source_id = NEW.variant_source_id) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL AND NEW.product_source_id IS NOT NULL AND NEW.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, NEW.product_source_id, NEW.variant_source_id, '',
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id = NEW.product_source_id AND x.variant_source_id = NEW.variant_source_id) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL AND NEW.product_source_id IS NOT NULL AND NEW.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

CREATE TRIGGER line_items_product_sales_delete BEFORE DELETE ON order_line_items
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, COALESCE(OLD.product_source_id, -1), -1, CASE WHEN OLD.product_source_id IS NULL THEN OLD.title ELSE '' END,
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id IS OLD.product_source_id AND (OLD.product_source_id IS NOT NULL OR x.title = OLD.title)) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, COALESCE(OLD.product_source_id, -1), -1, CASE WHEN OLD.product_source_id IS NULL THEN OLD.title ELSE '' END,
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id IS OLD.product_source_id AND (OLD.product_source_id IS NOT NULL OR x.title = OLD.title)) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, OLD.product_source_id, OLD.variant_source_id, '',
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id = OLD.product_source_id AND x.variant_source_id = OLD.variant_source_id) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL AND OLD.product_source_id IS NOT NULL AND OLD.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, OLD.product_source_id, OLD.variant_source_id, '',
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id = OLD.product_source_id AND x.variant_source_id = OLD.variant_source_id) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL AND OLD.product_source_id IS NOT NULL AND OLD.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

-- An update is the old line leaving before it and the new one coming in after it.
CREATE TRIGGER line_items_product_sales_update_old BEFORE UPDATE ON order_line_items
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, COALESCE(OLD.product_source_id, -1), -1, CASE WHEN OLD.product_source_id IS NULL THEN OLD.title ELSE '' END,
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id IS OLD.product_source_id AND (OLD.product_source_id IS NOT NULL OR x.title = OLD.title)) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, COALESCE(OLD.product_source_id, -1), -1, CASE WHEN OLD.product_source_id IS NULL THEN OLD.title ELSE '' END,
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id IS OLD.product_source_id AND (OLD.product_source_id IS NOT NULL OR x.title = OLD.title)) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, OLD.product_source_id, OLD.variant_source_id, '',
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id = OLD.product_source_id AND x.variant_source_id = OLD.variant_source_id) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL AND OLD.product_source_id IS NOT NULL AND OLD.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, OLD.product_source_id, OLD.variant_source_id, '',
           OLD.title, OLD.sku, -OLD.quantity, -OLD.quantity * OLD.price_e4, -n.first, CASE WHEN o.refunded_e4 > 0 THEN -n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.order_source_id AND x.product_source_id = OLD.product_source_id AND x.variant_source_id = OLD.variant_source_id) AS first) n
    WHERE o.shop_id = OLD.shop_id AND o.source_id = OLD.order_source_id AND o.cancelled_at IS NULL AND OLD.product_source_id IS NOT NULL AND OLD.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

CREATE TRIGGER line_items_product_sales_update_new AFTER UPDATE ON order_line_items
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, COALESCE(NEW.product_source_id, -1), -1, CASE WHEN NEW.product_source_id IS NULL THEN NEW.title ELSE '' END,
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id IS NEW.product_source_id AND (NEW.product_source_id IS NOT NULL OR x.title = NEW.title)) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, COALESCE(NEW.product_source_id, -1), -1, CASE WHEN NEW.product_source_id IS NULL THEN NEW.title ELSE '' END,
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id IS NEW.product_source_id AND (NEW.product_source_id IS NOT NULL OR x.title = NEW.title)) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, (CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', o.created_at / 1000, 'unixepoch') AS INTEGER) - 1), o.shop_id, o.currency, NEW.product_source_id, NEW.variant_source_id, '',
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id = NEW.product_source_id AND x.variant_source_id = NEW.variant_source_id) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL AND NEW.product_source_id IS NOT NULL AND NEW.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT o.organization_id, CAST(strftime('%Y', o.created_at / 1000, 'unixepoch') AS INTEGER), o.shop_id, o.currency, NEW.product_source_id, NEW.variant_source_id, '',
           NEW.title, NEW.sku, NEW.quantity, NEW.quantity * NEW.price_e4, n.first, CASE WHEN o.refunded_e4 > 0 THEN n.first ELSE 0 END
    FROM orders o, (SELECT (SELECT CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END FROM order_line_items x WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.order_source_id AND x.product_source_id = NEW.product_source_id AND x.variant_source_id = NEW.variant_source_id) AS first) n
    WHERE o.shop_id = NEW.shop_id AND o.source_id = NEW.order_source_id AND o.cancelled_at IS NULL AND NEW.product_source_id IS NOT NULL AND NEW.variant_source_id IS NOT NULL
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

CREATE TRIGGER orders_product_sales_insert AFTER INSERT ON orders
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.shop_id, NEW.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER), NEW.shop_id, NEW.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.shop_id, NEW.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER), NEW.shop_id, NEW.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

CREATE TRIGGER orders_product_sales_delete AFTER DELETE ON orders
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1), OLD.shop_id, OLD.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER), OLD.shop_id, OLD.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1), OLD.shop_id, OLD.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER), OLD.shop_id, OLD.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;

CREATE TRIGGER orders_product_sales_update AFTER UPDATE ON orders
    WHEN OLD.organization_id IS NOT NEW.organization_id OR (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1) <> (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1) OR OLD.currency IS NOT NEW.currency OR (OLD.cancelled_at IS NULL) <> (NEW.cancelled_at IS NULL) OR (OLD.refunded_e4 > 0) <> (NEW.refunded_e4 > 0)
BEGIN
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1), OLD.shop_id, OLD.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER), OLD.shop_id, OLD.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, (CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', OLD.created_at / 1000, 'unixepoch') AS INTEGER) - 1), OLD.shop_id, OLD.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT OLD.organization_id, CAST(strftime('%Y', OLD.created_at / 1000, 'unixepoch') AS INTEGER), OLD.shop_id, OLD.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), -SUM(x.quantity), -SUM(x.quantity * x.price_e4), -1, CASE WHEN OLD.refunded_e4 > 0 THEN -1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = OLD.shop_id AND x.order_source_id = OLD.source_id AND OLD.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.shop_id, NEW.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER), NEW.shop_id, NEW.currency, COALESCE(x.product_source_id, -1), -1, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END,
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL
    GROUP BY x.product_source_id, CASE WHEN x.product_source_id IS NULL THEN x.title ELSE '' END
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_months (organization_id, month, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, (CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER) * 12 + CAST(strftime('%m', NEW.created_at / 1000, 'unixepoch') AS INTEGER) - 1), NEW.shop_id, NEW.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, month, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
    INSERT INTO product_sales_years (organization_id, year, shop_id, currency, product_id, variant_id, line_title, title, sku, units, revenue_e4, order_count, refunded_count)
    SELECT NEW.organization_id, CAST(strftime('%Y', NEW.created_at / 1000, 'unixepoch') AS INTEGER), NEW.shop_id, NEW.currency, x.product_source_id, x.variant_source_id, '',
           MAX(x.title), MAX(x.sku), SUM(x.quantity), SUM(x.quantity * x.price_e4), 1, CASE WHEN NEW.refunded_e4 > 0 THEN 1 ELSE 0 END
    FROM order_line_items x
    WHERE x.shop_id = NEW.shop_id AND x.order_source_id = NEW.source_id AND NEW.cancelled_at IS NULL AND x.product_source_id IS NOT NULL AND x.variant_source_id IS NOT NULL
    GROUP BY x.product_source_id, x.variant_source_id
    ON CONFLICT (organization_id, year, shop_id, currency, product_id, variant_id, line_title) DO UPDATE SET
        title = CASE WHEN excluded.title > title THEN excluded.title ELSE title END,
        sku = CASE WHEN sku IS NULL OR excluded.sku > sku THEN COALESCE(excluded.sku, sku) ELSE sku END,
        units = units + excluded.units, revenue_e4 = revenue_e4 + excluded.revenue_e4,
        order_count = order_count + excluded.order_count, refunded_count = refunded_count + excluded.refunded_count;
END;
