-- One batch of 1,000 generated orders of 2025, ids [:lo, :lo + 1000), of the shop :'shop'
-- in the organization :'org' (psql variables), written into `orders` as an import writes
-- them, so the triggers maintain the sales and customer sums. Shared by bench/analytics.sh
-- and bench/insights.sh: `\set shop …`, `\set org …`, then `\set lo N` and `\i` per batch.
-- 100,000 customers; JPY (80 %), USD (15 %), EUR (5 %); 3 % cancelled, some discounted
-- and refunded; 1-4 units per order.
INSERT INTO orders (shop_id, source_id, organization_id, name, email, customer_source_id, currency,
    total_price_e4, subtotal_price_e4, status, financial_status, created_at, cancelled_at,
    source_updated_at, imported_at, gross_e4, discounts_e4, refunded_e4, units)
SELECT :'shop', g, :'org', '#' || g, 'c' || (g % 100000) || '@example.com', 1 + (g * 7919) % 100000,
       c.cur, c.gross - c.disc, c.gross - c.disc,
       CASE WHEN c.cancel THEN 'cancelled' ELSE 'open' END, 'paid', c.at,
       CASE WHEN c.cancel THEN c.at + 3600000 END, c.at, c.at, c.gross, c.disc,
       CASE WHEN g % 20 = 0 THEN (c.gross - c.disc) / 2 ELSE 0 END, c.units
FROM generate_series(:lo::bigint, :lo::bigint + 999) g,
LATERAL (SELECT
    CASE WHEN g % 20 < 16 THEN 'JPY' WHEN g % 20 < 19 THEN 'USD' ELSE 'EUR' END AS cur,
    1735689600000 + ((g::bigint * 2654435761) % 31536000) * 1000 AS at,
    (1 + (g * 31) % 4) * (1000 + (g * 17) % 99000) * 10000 AS gross,
    CASE WHEN g % 4 = 0 THEN 5000000 ELSE 0 END AS disc,
    1 + (g * 31) % 4 AS units,
    g % 33 = 0 AS cancel) c;
