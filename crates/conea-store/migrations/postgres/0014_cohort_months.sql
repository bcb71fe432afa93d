-- The cohort report reads one table instead of joining two: each customer-month row carries
-- its customer's first order time and UTC month, copied from `customer_sales` (per customer
-- and currency) and kept equal to it by the triggers below, whichever of the two tables a
-- write reaches first: a new month row takes its customer's first order; a customer row
-- whose first order is new or changed gives it to all of its month rows. Statement-level
-- over the transition tables, like the triggers of 0010 that write both tables.
ALTER TABLE customer_months ADD COLUMN first_order_at BIGINT;
ALTER TABLE customer_months ADD COLUMN first_month BIGINT;
UPDATE customer_months m SET first_order_at = s.first_order_at, first_month = s.first_month
    FROM customer_sales s
    WHERE s.organization_id = m.organization_id AND s.shop_id = m.shop_id
      AND s.customer_source_id = m.customer_source_id AND s.currency = m.currency;

CREATE FUNCTION customer_months_take_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customer_months m SET first_order_at = s.first_order_at, first_month = s.first_month
    FROM new_months n JOIN customer_sales s ON s.organization_id = n.organization_id AND s.shop_id = n.shop_id
        AND s.customer_source_id = n.customer_source_id AND s.currency = n.currency
    WHERE m.organization_id = n.organization_id AND m.shop_id = n.shop_id
      AND m.customer_source_id = n.customer_source_id AND m.currency = n.currency AND m.month = n.month
      AND (m.first_order_at IS DISTINCT FROM s.first_order_at OR m.first_month IS DISTINCT FROM s.first_month);
    RETURN NULL;
END;
$$;
CREATE TRIGGER customer_months_first AFTER INSERT ON customer_months
    REFERENCING NEW TABLE AS new_months FOR EACH STATEMENT EXECUTE FUNCTION customer_months_take_first();

CREATE FUNCTION customer_sales_give_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customer_months m SET first_order_at = n.first_order_at, first_month = n.first_month
    FROM new_sales n
    WHERE m.organization_id = n.organization_id AND m.shop_id = n.shop_id
      AND m.customer_source_id = n.customer_source_id AND m.currency = n.currency
      AND (m.first_order_at IS DISTINCT FROM n.first_order_at OR m.first_month IS DISTINCT FROM n.first_month);
    RETURN NULL;
END;
$$;
CREATE TRIGGER customer_sales_first_insert AFTER INSERT ON customer_sales
    REFERENCING NEW TABLE AS new_sales FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_give_first();
CREATE TRIGGER customer_sales_first_update AFTER UPDATE ON customer_sales
    REFERENCING NEW TABLE AS new_sales FOR EACH STATEMENT EXECUTE FUNCTION customer_sales_give_first();
