//! `product_performance`'s read: each product's and variant's sales in a range, from the
//! yearly and monthly sums the triggers of migration 0027 keep and the line items at
//! the range's ends, as `product_plan` chooses. Orders not cancelled; an order is counted
//! once per product and once per variant; the stored product and variant titles. Routable
//! read.

use super::product_plan::plan;
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

/// The line items of the orders created in `[$lo, $hi)`: `$1` organization, `$2` shop or
/// NULL.
macro_rules! lines_between {
    ($lo:literal, $hi:literal) => {
        concat!(
            " FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id \
              WHERE o.organization_id = $1 AND ($2 IS NULL OR o.shop_id = $2) AND o.cancelled_at IS NULL \
              AND o.created_at >= ", $lo, " AND o.created_at < ", $hi
        )
    };
}

/// The line sums, each times `$sign` (1 to add an edge, -1 to take it out of a month).
macro_rules! line_sums {
    ($sign:literal) => {
        concat!(
            ", MAX(li.title) AS title, MAX(li.sku) AS sku, o.currency, ",
            $sign,
            " * SUM(li.quantity) AS units, ",
            $sign,
            " * SUM(li.quantity * li.price_e4) AS revenue, ",
            $sign,
            " * COUNT(DISTINCT o.source_id) AS order_count, ",
            $sign,
            " * COUNT(DISTINCT CASE WHEN o.refunded_e4 > 0 THEN o.source_id END) AS refunded_count"
        )
    };
}

/// The same columns as the sums, from the line items of one edge: per product (a line
/// without a product: per title), then per variant.
macro_rules! edge {
    ($lo:literal, $hi:literal, $sign:literal) => {
        concat!(
            " UNION ALL SELECT li.shop_id, COALESCE(li.product_source_id, -1) AS product_id, -1 AS variant_id, \
               CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END AS line_title",
            line_sums!($sign),
            lines_between!($lo, $hi),
            " GROUP BY li.shop_id, li.product_source_id, CASE WHEN li.product_source_id IS NULL THEN li.title ELSE '' END, o.currency",
            " UNION ALL SELECT li.shop_id, li.product_source_id, li.variant_source_id, ''",
            line_sums!($sign),
            lines_between!($lo, $hi),
            " AND li.product_source_id IS NOT NULL AND li.variant_source_id IS NOT NULL",
            " GROUP BY li.shop_id, li.product_source_id, li.variant_source_id, o.currency"
        )
    };
}

/// The rows of a sums table for the periods `[$lo, $hi)`, times `$sign`.
macro_rules! sums {
    ($table:literal, $period:literal, $lo:literal, $hi:literal, $sign:literal) => {
        concat!(
            " UNION ALL SELECT shop_id, product_id, variant_id, line_title, title, sku, currency, ",
            $sign,
            " * units, ",
            $sign,
            " * revenue_e4, ",
            $sign,
            " * order_count, ",
            $sign,
            " * refunded_count FROM ",
            $table,
            " WHERE organization_id = $1 AND ",
            $period,
            " >= ",
            $lo,
            " AND ",
            $period,
            " < ",
            $hi,
            " AND ($2 IS NULL OR shop_id = $2)"
        )
    };
}

/// `$1` organization, `$2` shop or NULL; the years `[$3, $4)`; the months `[$5, $6)` times
/// `$7` and `[$8, $9)` times `$10`; the line items of `[$11, $12)` times `$13`, `[$14, $15)`
/// times `$16`, `[$17, $18)` times `$19` and `[$20, $21)` times `$22`.
const PRODUCT_SALES_SQL: &str = concat!(
    "SELECT s.shop_id, NULLIF(s.product_id, -1) AS product_source_id, NULLIF(s.variant_id, -1) AS variant_source_id, ",
    "CASE WHEN s.variant_id = -1 THEN COALESCE(p.title, s.title) ELSE COALESCE(v.title, s.title) END AS title, ",
    "COALESCE(v.sku, s.sku) AS sku, s.currency, s.units, s.revenue, s.order_count, s.refunded_count FROM (",
    "SELECT shop_id, product_id, variant_id, line_title, MAX(title) AS title, MAX(sku) AS sku, currency, ",
    "CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(revenue) AS BIGINT) AS revenue, ",
    "CAST(SUM(order_count) AS BIGINT) AS order_count, CAST(SUM(refunded_count) AS BIGINT) AS refunded_count FROM (",
    "SELECT shop_id, product_id, variant_id, line_title, title, sku, currency, units, revenue_e4 AS revenue, ",
    "order_count, refunded_count FROM product_sales_years ",
    "WHERE organization_id = $1 AND year >= $3 AND year < $4 AND ($2 IS NULL OR shop_id = $2)",
    sums!("product_sales_months", "month", "$5", "$6", "$7"),
    sums!("product_sales_months", "month", "$8", "$9", "$10"),
    edge!("$11", "$12", "$13"),
    edge!("$14", "$15", "$16"),
    edge!("$17", "$18", "$19"),
    edge!("$20", "$21", "$22"),
    ") u GROUP BY shop_id, product_id, variant_id, line_title, currency HAVING SUM(order_count) > 0",
    ") s LEFT JOIN products p ON p.shop_id = s.shop_id AND p.source_id = s.product_id ",
    "LEFT JOIN product_variants v ON v.shop_id = s.shop_id AND v.product_source_id = s.product_id ",
    "AND v.source_id = s.variant_id"
);

impl SqlStore {
    pub(super) async fn product_sales_rows(
        &self,
        query: &ProductQuery,
    ) -> StoreResult<Vec<ProductSales>> {
        let plan = plan(query.from, query.to);
        let mut statement = q("analytics_product_sales", PRODUCT_SALES_SQL)
            .bind(query.org_id.as_str())
            .bind(query.shop_id.as_ref().map(ShopId::as_str))
            .bind(plan.years.from)
            .bind(plan.years.to);
        for m in plan.months {
            statement = statement.bind(m.from).bind(m.to).bind(m.sign);
        }
        for e in plan.lines {
            statement = statement.bind(e.from).bind(e.to).bind(e.sign);
        }
        let rows = statement
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
