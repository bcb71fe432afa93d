//! The customer analytics' reads over `customer_sales` and `customer_months` (migration
//! 0010; kept by triggers on `orders`; rows whose count fell to 0 are skipped). Routable
//! reads.

use crate::query::{q, q_built};
use crate::SqlStore;
use conea_core::ids::ShopId;
use conea_core::store::StoreResult;
use conea_shopdata::analytics::store::{CohortCell, CustomerQuery, CustomerSales};
use conea_shopdata::Money;

#[derive(sqlx::FromRow)]
struct SalesRow {
    currency: String,
    order_count: i64,
    net_e4: i64,
    first_order_net_e4: i64,
    first_order_at: i64,
    last_order_at: i64,
}

#[derive(sqlx::FromRow)]
struct CellRow {
    currency: String,
    cohort: i64,
    month: i64,
    customers: i64,
    net_e4: i64,
}

const SCOPE: &str = "s.organization_id = $1 AND ($2 IS NULL OR s.shop_id = $2) \
                     AND s.first_order_at >= $3 AND s.first_order_at < $4 AND s.order_count > 0";

impl SqlStore {
    pub(super) async fn customer_sales_rows(
        &self,
        cq: &CustomerQuery,
    ) -> StoreResult<Vec<CustomerSales>> {
        let sql = format!(
            "SELECT currency, order_count, net_e4, first_order_net_e4, first_order_at, last_order_at \
             FROM customer_sales s WHERE {SCOPE}"
        );
        let rows = q_built(
            "analytics_customer_sales",
            "SELECT … FROM customer_sales",
            sql,
        )
        .bind(cq.org_id.as_str())
        .bind(cq.shop_id.as_ref().map(ShopId::as_str))
        .bind(cq.first_from)
        .bind(cq.first_to)
        .fetch_all::<SalesRow>(&self.routed("analytics"))
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| CustomerSales {
                currency: r.currency,
                orders: r.order_count,
                net: Money::from_units(r.net_e4),
                first_order_net: Money::from_units(r.first_order_net_e4),
                first_order_at: r.first_order_at,
                last_order_at: r.last_order_at,
            })
            .collect())
    }

    pub(super) async fn cohort_cell_rows(
        &self,
        cq: &CustomerQuery,
    ) -> StoreResult<Vec<CohortCell>> {
        // One table: each month row carries its customer's first order (migration 0014).
        let sql = "SELECT m.currency, m.first_month AS cohort, m.month, COUNT(*) AS customers, \
             CAST(SUM(m.net_e4) AS BIGINT) AS net_e4 FROM customer_months m \
             WHERE m.organization_id = $1 AND ($2 IS NULL OR m.shop_id = $2) \
             AND m.first_order_at >= $3 AND m.first_order_at < $4 AND m.order_count > 0 \
             GROUP BY m.currency, m.first_month, m.month";
        let rows = q("analytics_cohort_cells", sql)
            .bind(cq.org_id.as_str())
            .bind(cq.shop_id.as_ref().map(ShopId::as_str))
            .bind(cq.first_from)
            .bind(cq.first_to)
            .fetch_all::<CellRow>(&self.routed("analytics"))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| CohortCell {
                currency: r.currency,
                cohort: r.cohort,
                month: r.month,
                customers: r.customers,
                net: Money::from_units(r.net_e4),
            })
            .collect())
    }
}
