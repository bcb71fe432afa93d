//! The inventory report's read: each product with its variants' stock and the units sold in
//! a window (orders that are not cancelled). Routable read.

use crate::query::q;
use crate::SqlStore;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::analytics::store::ProductStock;

#[derive(sqlx::FromRow)]
struct StockRow {
    shop_id: String,
    source_id: i64,
    title: String,
    stock: Option<i64>,
    units_sold: i64,
}

/// `$1` organization, `$2` shop or NULL, `[$3, $4)` the sales window.
const PRODUCT_STOCK_SQL: &str = "SELECT p.shop_id, p.source_id, p.title, v.stock, \
     CAST(COALESCE(s.units, 0) AS BIGINT) AS units_sold FROM products p \
     LEFT JOIN (SELECT shop_id, product_source_id, CAST(SUM(inventory_quantity) AS BIGINT) AS stock \
                FROM product_variants WHERE organization_id = $1 GROUP BY shop_id, product_source_id) v \
       ON v.shop_id = p.shop_id AND v.product_source_id = p.source_id \
     LEFT JOIN (SELECT li.shop_id, li.product_source_id, SUM(li.quantity) AS units \
                FROM order_line_items li JOIN orders o ON o.shop_id = li.shop_id AND o.source_id = li.order_source_id \
                WHERE o.organization_id = $1 AND o.cancelled_at IS NULL AND o.created_at >= $3 AND o.created_at < $4 \
                GROUP BY li.shop_id, li.product_source_id) s \
       ON s.shop_id = p.shop_id AND s.product_source_id = p.source_id \
     WHERE p.organization_id = $1 AND ($2 IS NULL OR p.shop_id = $2)";

impl SqlStore {
    pub(super) async fn product_stock_rows(
        &self,
        org: &OrgId,
        shop: Option<&ShopId>,
        from: EpochMs,
        to: EpochMs,
    ) -> StoreResult<Vec<ProductStock>> {
        let rows = q("analytics_product_stock", PRODUCT_STOCK_SQL)
            .bind(org.as_str())
            .bind(shop.map(ShopId::as_str))
            .bind(from)
            .bind(to)
            .fetch_all::<StockRow>(&self.routed("analytics"))
            .await?;
        let bad = || StoreError::Other("corrupt shop id in products".into());
        rows.into_iter()
            .map(|r| {
                Ok(ProductStock {
                    shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad())?,
                    product_id: r.source_id,
                    title: r.title,
                    stock: r.stock,
                    units_sold: r.units_sold,
                })
            })
            .collect()
    }
}
