-- The read API's lists (GET /v1/shop/...): one index per sort, led by the organization and
-- ending with the tie-break (shop_id, source_id), so a keyset page is a range scan from the
-- cursor; and the lookups of the filters that are not on the order row itself.
CREATE INDEX orders_read_created ON orders (organization_id, created_at, shop_id, source_id);
CREATE INDEX orders_read_total ON orders (organization_id, total_price_e4, shop_id, source_id);
CREATE INDEX orders_read_customer ON orders (organization_id, customer_source_id, shop_id);
CREATE INDEX order_line_items_product ON order_line_items (organization_id, product_source_id);
-- Products and customers without a creation time sort as 0.
CREATE INDEX products_read_created ON products (organization_id, COALESCE(created_at, 0), shop_id, source_id);
CREATE INDEX products_read_updated ON products (organization_id, source_updated_at, shop_id, source_id);
CREATE INDEX customers_read_created ON customers (organization_id, COALESCE(created_at, 0), shop_id, source_id);
CREATE INDEX customers_read_updated ON customers (organization_id, source_updated_at, shop_id, source_id);
