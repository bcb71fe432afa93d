-- The cohort report reads one table instead of joining two: each customer-month row carries
-- its customer's first order time and UTC month, copied from `customer_sales` (per customer
-- and currency) and kept equal to it by the triggers below, whichever of the two tables a
-- write reaches first: a new month row takes its customer's first order; a customer row
-- whose first order is new or changed gives it to all of its month rows.
ALTER TABLE customer_months ADD COLUMN first_order_at BIGINT;
ALTER TABLE customer_months ADD COLUMN first_month BIGINT;
UPDATE customer_months SET
    first_order_at = (SELECT s.first_order_at FROM customer_sales s WHERE s.organization_id = customer_months.organization_id
        AND s.shop_id = customer_months.shop_id AND s.customer_source_id = customer_months.customer_source_id AND s.currency = customer_months.currency),
    first_month = (SELECT s.first_month FROM customer_sales s WHERE s.organization_id = customer_months.organization_id
        AND s.shop_id = customer_months.shop_id AND s.customer_source_id = customer_months.customer_source_id AND s.currency = customer_months.currency);

CREATE TRIGGER customer_months_first AFTER INSERT ON customer_months
BEGIN
    UPDATE customer_months SET
        first_order_at = (SELECT s.first_order_at FROM customer_sales s WHERE s.organization_id = NEW.organization_id
            AND s.shop_id = NEW.shop_id AND s.customer_source_id = NEW.customer_source_id AND s.currency = NEW.currency),
        first_month = (SELECT s.first_month FROM customer_sales s WHERE s.organization_id = NEW.organization_id
            AND s.shop_id = NEW.shop_id AND s.customer_source_id = NEW.customer_source_id AND s.currency = NEW.currency)
    WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id
      AND customer_source_id = NEW.customer_source_id AND currency = NEW.currency AND month = NEW.month;
END;

CREATE TRIGGER customer_sales_first_insert AFTER INSERT ON customer_sales
BEGIN
    UPDATE customer_months SET first_order_at = NEW.first_order_at, first_month = NEW.first_month
    WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id
      AND customer_source_id = NEW.customer_source_id AND currency = NEW.currency;
END;

CREATE TRIGGER customer_sales_first_update AFTER UPDATE ON customer_sales
WHEN OLD.first_order_at IS NOT NEW.first_order_at OR OLD.first_month IS NOT NEW.first_month
BEGIN
    UPDATE customer_months SET first_order_at = NEW.first_order_at, first_month = NEW.first_month
    WHERE organization_id = NEW.organization_id AND shop_id = NEW.shop_id
      AND customer_source_id = NEW.customer_source_id AND currency = NEW.currency;
END;
