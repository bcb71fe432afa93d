//! The report aggregates over orders and line items (routable reads: they may run on the
//! replica).

use crate::query::{q, Query};
use crate::SqlStore;
use conea_core::ids::ShopId;
use conea_core::store::StoreResult;
use conea_shopdata::store::{OrderGroup, ProductSales, ProductSalesRow, ReportScope};
use conea_shopdata::Money;

const ORDER: &str = "order";

#[derive(sqlx::FromRow)]
struct GroupRow {
    day: i64,
    status: String,
    financial_status: Option<String>,
    currency: String,
    orders: i64,
    live_orders: i64,
    revenue: i64,
}

#[derive(sqlx::FromRow)]
struct SalesRow {
    product_source_id: Option<i64>,
    title: String,
    units: i64,
    revenue: i64,
}

/// `$1` organization, `$2` shop or NULL for all, `[$3, $4)` creation period.
macro_rules! scope_filter {
    ($alias:literal) => {
        concat!(
            $alias,
            "organization_id = $1 AND ($2 IS NULL OR ",
            $alias,
            "shop_id = $2) AND ",
            $alias,
            "created_at >= $3 AND ",
            $alias,
            "created_at < $4"
        )
    };
}

const ORDER_GROUPS_SQL: &str = concat!(
    "SELECT created_at / 86400000 AS day, status, financial_status, currency, COUNT(*) AS orders, ",
    "CAST(SUM(CASE WHEN cancelled_at IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS live_orders, ",
    "CAST(SUM(CASE WHEN cancelled_at IS NULL THEN total_price_e4 ELSE 0 END) AS BIGINT) AS revenue ",
    "FROM orders WHERE ",
    scope_filter!(""),
    " GROUP BY 1, 2, 3, 4"
);

const ORDER_CURRENCIES_SQL: &str = concat!(
    "SELECT currency, COUNT(*) FROM orders WHERE ",
    scope_filter!(""),
    " AND cancelled_at IS NULL GROUP BY currency"
);

macro_rules! sales_from {
    () => {
        concat!(
            " FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id WHERE ",
            scope_filter!("o."),
            " AND o.cancelled_at IS NULL AND o.currency = $5"
        )
    };
}

const TOP_PRODUCTS_SQL: &str = concat!(
    "SELECT s.product_source_id, COALESCE(p.title, s.title) AS title, s.units, s.revenue FROM (",
    "SELECT li.shop_id, li.product_source_id, MAX(li.title) AS title, ",
    "CAST(SUM(li.quantity) AS BIGINT) AS units, CAST(SUM(li.quantity * li.price_e4) AS BIGINT) AS revenue",
    sales_from!(),
    " GROUP BY li.shop_id, li.product_source_id, CASE WHEN li.product_source_id IS NULL THEN li.title END",
    ") s LEFT JOIN products p ON p.shop_id = s.shop_id AND p.source_id = s.product_source_id ",
    "ORDER BY s.revenue DESC, title, s.product_source_id LIMIT $6"
);

const SALES_TOTALS_SQL: &str = concat!(
    "SELECT CAST(COALESCE(SUM(li.quantity), 0) AS BIGINT), ",
    "CAST(COALESCE(SUM(li.quantity * li.price_e4), 0) AS BIGINT)",
    sales_from!()
);

/// Binds a report's scope: `$1` organization, `$2` shop or NULL, `[$3, $4)` period.
fn scoped<'q>(q: Query<'q>, scope: &'q ReportScope) -> Query<'q> {
    q.bind(scope.org_id.as_str())
        .bind(scope.shop_id.as_ref().map(ShopId::as_str))
        .bind(scope.from)
        .bind(scope.to)
}

impl SqlStore {
    pub(super) async fn order_groups(&self, scope: &ReportScope) -> StoreResult<Vec<OrderGroup>> {
        let rows = scoped(q("order_groups", ORDER_GROUPS_SQL), scope)
            .fetch_all::<GroupRow>(&self.routed(ORDER))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| OrderGroup {
                day: r.day,
                status: r.status,
                financial_status: r.financial_status,
                currency: r.currency,
                orders: r.orders,
                live_orders: r.live_orders,
                revenue: Money::from_units(r.revenue),
            })
            .collect())
    }

    pub(super) async fn order_currencies(
        &self,
        scope: &ReportScope,
    ) -> StoreResult<Vec<(String, i64)>> {
        scoped(q("order_currencies", ORDER_CURRENCIES_SQL), scope)
            .fetch_all::<(String, i64)>(&self.routed(ORDER))
            .await
    }

    pub(super) async fn product_sales(
        &self,
        scope: &ReportScope,
        currency: &str,
        limit: u32,
    ) -> StoreResult<ProductSales> {
        let top = scoped(q("top_products", TOP_PRODUCTS_SQL), scope)
            .bind(currency)
            .bind(i64::from(limit))
            .fetch_all::<SalesRow>(&self.routed(ORDER))
            .await?;
        let (total_units, total_revenue): (i64, i64) =
            scoped(q("sales_totals", SALES_TOTALS_SQL), scope)
                .bind(currency)
                .fetch_one(&self.routed(ORDER))
                .await?;
        Ok(ProductSales {
            top: top
                .into_iter()
                .map(|r| ProductSalesRow {
                    product_id: r.product_source_id,
                    title: r.title,
                    units_sold: r.units,
                    revenue: Money::from_units(r.revenue),
                })
                .collect(),
            total_units,
            total_revenue: Money::from_units(total_revenue),
        })
    }
}
