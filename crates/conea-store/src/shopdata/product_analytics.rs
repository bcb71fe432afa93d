//! `product_performance`'s read: the line items of the orders in a range that are not
//! cancelled, summed per product and per variant (two grouped scans in one statement), with
//! the stored product and variant titles. Routable read.

use crate::query::q;
use crate::SqlStore;
use conea_core::ids::ShopId;
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::analytics::store::{ProductQuery, ProductSales};
use conea_shopdata::Money;

#[derive(sqlx::FromRow)]
struct SalesRow {
    shop_id: String,
    product_source_id: Option<i64>,
    variant_source_id: Option<i64>,
    title: String,
    sku: Option<String>,
    currency: String,
    units: i64,
    revenue: i64,
    order_count: i64,
    refunded_count: i64,
}

/// The line items in scope: `$1` organization, `$2` shop or NULL, `[$3, $4)` created.
macro_rules! lines_in_scope {
    () => {
        " FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id \
          WHERE o.organization_id = $1 AND ($2 IS NULL OR o.shop_id = $2) AND o.cancelled_at IS NULL \
          AND o.created_at >= $3 AND o.created_at < $4"
    };
}

macro_rules! sums {
    () => {
        ", o.currency, CAST(SUM(li.quantity) AS BIGINT) AS units, \
         CAST(SUM(li.quantity * li.price_e4) AS BIGINT) AS revenue, \
         COUNT(DISTINCT o.source_id) AS order_count, \
         COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END) AS refunded_count"
    };
}

const PRODUCT_SALES_SQL: &str = concat!(
    "SELECT s.shop_id, s.product_source_id, s.variant_source_id, ",
    "CASE WHEN s.variant_source_id IS NULL THEN COALESCE(p.title, s.title) ELSE COALESCE(v.title, s.title) END AS title, ",
    "COALESCE(v.sku, s.sku) AS sku, s.currency, s.units, s.revenue, s.order_count, s.refunded_count FROM (",
    // Per variant.
    "SELECT li.shop_id, li.product_source_id, li.variant_source_id, MAX(li.title) AS title, MAX(li.sku) AS sku",
    sums!(),
    lines_in_scope!(),
    " AND li.product_source_id IS NOT NULL AND li.variant_source_id IS NOT NULL",
    " GROUP BY li.shop_id, li.product_source_id, li.variant_source_id, o.currency",
    " UNION ALL ",
    // Per product (a line without a product: per title).
    "SELECT li.shop_id, li.product_source_id, CAST(NULL AS BIGINT), MAX(li.title), CAST(NULL AS TEXT)",
    sums!(),
    lines_in_scope!(),
    " GROUP BY li.shop_id, li.product_source_id, CASE WHEN li.product_source_id IS NULL THEN li.title END, o.currency",
    ") s LEFT JOIN products p ON p.shop_id = s.shop_id AND p.source_id = s.product_source_id ",
    "LEFT JOIN product_variants v ON v.shop_id = s.shop_id AND v.product_source_id = s.product_source_id ",
    "AND v.source_id = s.variant_source_id"
);

impl SqlStore {
    pub(super) async fn product_sales_rows(
        &self,
        query: &ProductQuery,
    ) -> StoreResult<Vec<ProductSales>> {
        let rows = q("analytics_product_sales", PRODUCT_SALES_SQL)
            .bind(query.org_id.as_str())
            .bind(query.shop_id.as_ref().map(ShopId::as_str))
            .bind(query.from)
            .bind(query.to)
            .fetch_all::<SalesRow>(&self.routed("analytics"))
            .await?;
        let bad = || StoreError::Other("corrupt shop id in order_line_items".into());
        rows.into_iter()
            .map(|r| {
                Ok(ProductSales {
                    shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad())?,
                    product_id: r.product_source_id,
                    variant_id: r.variant_source_id,
                    title: r.title,
                    sku: r.sku,
                    currency: r.currency,
                    units: r.units,
                    revenue: Money::from_units(r.revenue),
                    orders: r.order_count,
                    refunded_orders: r.refunded_count,
                })
            })
            .collect()
    }
}
