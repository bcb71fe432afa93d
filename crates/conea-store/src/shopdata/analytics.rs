//! The analytics' reads: the maintained sales sums (`order_sales_1h` when the time zone's
//! offsets are whole hours, else `order_sales_15m`; kept by the triggers of migrations 0009
//! and 0011) regrouped into local days or hours of the week in SQL, so
//! only one row per slot and currency leaves the database. Routable reads (the replica when
//! it is current).

use crate::query::q_built;
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::OrgId;
use conea_core::ids::ShopId;
use conea_core::store::StoreResult;
use conea_shopdata::analytics::store::{
    AnalyticsStore, CohortCell, CustomerQuery, CustomerSales, ProductQuery, ProductSales,
    ProductStock, SalesSums, SlotQuery, SlotSums,
};
use conea_shopdata::Money;

#[derive(sqlx::FromRow)]
struct SlotRow {
    currency: String,
    slot: i64,
    order_count: i64,
    gross_e4: i64,
    discounts_e4: i64,
    refunded_e4: i64,
    units: i64,
    total_e4: i64,
    cancelled_count: i64,
    cancelled_e4: i64,
}

/// The slot of a bucket: its local time (`bucket` plus the offset of its span: `$5`, `$6`,
/// … pairs of span end and offset) divided by the slot width, or the hour of the week
/// (1970-01-01 was a Thursday: hour 72 of its week).
fn slot_sql(q: &SlotQuery) -> String {
    let mut local = String::from("bucket + ");
    let earlier = q.spans.len().saturating_sub(1);
    if earlier == 0 {
        local.push_str("$5");
    } else {
        local.push_str("CASE");
        for i in 0..earlier {
            let (until, offset) = (5 + 2 * i, 6 + 2 * i);
            local.push_str(&format!(" WHEN bucket < ${until} THEN ${offset}"));
        }
        local.push_str(&format!(" ELSE ${} END", 5 + 2 * earlier));
    }
    if q.hour_of_week {
        format!("(({local}) / {} + 72) % 168", q.slot_ms)
    } else {
        format!("({local}) / {}", q.slot_ms)
    }
}

#[async_trait]
impl AnalyticsStore for SqlStore {
    async fn customer_sales(&self, q: &CustomerQuery) -> StoreResult<Vec<CustomerSales>> {
        self.customer_sales_rows(q).await
    }

    async fn cohort_cells(&self, q: &CustomerQuery) -> StoreResult<Vec<CohortCell>> {
        self.cohort_cell_rows(q).await
    }

    async fn product_stock(
        &self,
        org: &OrgId,
        shop: Option<&ShopId>,
        from: EpochMs,
        to: EpochMs,
    ) -> StoreResult<Vec<ProductStock>> {
        self.product_stock_rows(org, shop, from, to).await
    }

    async fn product_sales(&self, q: &ProductQuery) -> StoreResult<Vec<ProductSales>> {
        self.product_sales_rows(q).await
    }

    async fn sales_slots(&self, query: &SlotQuery) -> StoreResult<Vec<SlotSums>> {
        let sql = format!(
            "SELECT currency, CAST({slot} AS BIGINT) AS slot, \
             CAST(SUM(order_count) AS BIGINT) AS order_count, CAST(SUM(gross_e4) AS BIGINT) AS gross_e4, \
             CAST(SUM(discounts_e4) AS BIGINT) AS discounts_e4, CAST(SUM(refunded_e4) AS BIGINT) AS refunded_e4, \
             CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(total_e4) AS BIGINT) AS total_e4, \
             CAST(SUM(cancelled_count) AS BIGINT) AS cancelled_count, CAST(SUM(cancelled_e4) AS BIGINT) AS cancelled_e4 \
             FROM {table} WHERE organization_id = $1 AND ($2 IS NULL OR shop_id = $2) \
             AND bucket >= $3 AND bucket < $4 GROUP BY currency, 2",
            slot = slot_sql(query),
            table = if query.hourly {
                "order_sales_1h"
            } else {
                "order_sales_15m"
            }
        );
        let mut stmt = q_built(
            "analytics_sales_slots",
            "SELECT … FROM order_sales_15m GROUP BY currency, slot",
            sql,
        )
        .bind(query.org_id.as_str())
        .bind(query.shop_id.as_ref().map(ShopId::as_str))
        .bind(query.from)
        .bind(query.to);
        let n = query.spans.len();
        for (i, span) in query.spans.iter().enumerate() {
            if i + 1 < n {
                stmt = stmt.bind(span.until);
            }
            stmt = stmt.bind(span.offset_ms);
        }
        let rows = stmt.fetch_all::<SlotRow>(&self.routed("analytics")).await?;
        let m = Money::from_units;
        Ok(rows
            .into_iter()
            .map(|r| SlotSums {
                slot: r.slot,
                currency: r.currency,
                sums: SalesSums {
                    orders: r.order_count,
                    gross: m(r.gross_e4),
                    discounts: m(r.discounts_e4),
                    refunded: m(r.refunded_e4),
                    units: r.units,
                    total: m(r.total_e4),
                    cancelled_orders: r.cancelled_count,
                    cancelled: m(r.cancelled_e4),
                },
            })
            .collect())
    }
}
