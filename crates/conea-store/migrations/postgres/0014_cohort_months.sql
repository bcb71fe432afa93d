-- The cohort report reads one table instead of joining two: each customer-month row carries
-- its customer's first order time and UTC month, copied from `customer_sales` (per customer
-- and currency) and kept equal to it by the triggers below, whichever of the two tables a
-- write reaches first: a new month row takes its customer's first order; a customer row
-- whose first order is new or changed gives it to all of its month rows. Row-level, each on
-- the primary key: a month row looks up its customer before it is written, and only a
-- customer whose first order changed touches its months (statement-level triggers over the
-- transition tables planned sequential scans of customer_months: writes 10 times slower).
ALTER TABLE customer_months ADD COLUMN first_order_at BIGINT;
ALTER TABLE customer_months ADD COLUMN first_month BIGINT;
UPDATE customer_months m SET first_order_at = s.first_order_at, first_month = s.first_month
    FROM customer_sales s
    WHERE s.organization_id = m.organization_id AND s.shop_id = m.shop_id
      AND s.customer_source_id = m.customer_source_id AND s.currency = m.currency;

CREATE FUNCTION customer_months_take_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT s.first_order_at, s.first_month INTO NEW.first_order_at, NEW.first_month
    FROM customer_sales s WHERE s.organization_id = NEW.organization_id AND s.shop_id = NEW.shop_id
      AND s.customer_source_id = NEW.customer_source_id AND s.currency = NEW.currency;
    RETURN NEW;
END;
$$;
CREATE TRIGGER customer_months_first BEFORE INSERT ON customer_months
    FOR EACH ROW EXECUTE FUNCTION customer_months_take_first();

CREATE FUNCTION customer_sales_give_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customer_months SET first_order_at = NEW.first_order_at, first_month = NEW.first_month
    WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id
      AND customer_source_id = NEW.customer_source_id AND currency = NEW.currency
      AND (first_order_at IS DISTINCT FROM NEW.first_order_at OR first_month IS DISTINCT FROM NEW.first_month);
    RETURN NULL;
END;
$$;
CREATE TRIGGER customer_sales_first_insert AFTER INSERT ON customer_sales
    FOR EACH ROW EXECUTE FUNCTION customer_sales_give_first();
CREATE TRIGGER customer_sales_first_update AFTER UPDATE ON customer_sales
    FOR EACH ROW WHEN (OLD.first_order_at IS DISTINCT FROM NEW.first_order_at OR OLD.first_month IS DISTINCT FROM NEW.first_month)
    EXECUTE FUNCTION customer_sales_give_first();
