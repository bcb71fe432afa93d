//! The inventory report's read: each product with its variants' stock, and the units sold in
//! a window (orders that are not cancelled) as `product_performance` reads them (monthly
//! sums, line items at the edges). Routable reads.

use crate::query::q;
use crate::SqlStore;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::analytics::store::{ProductQuery, ProductStock};
use std::collections::HashMap;

#[derive(sqlx::FromRow)]
struct StockRow {
    shop_id: String,
    source_id: i64,
    title: String,
    stock: Option<i64>,
}

/// `$1` organization, `$2` shop or NULL.
const PRODUCT_STOCK_SQL: &str = "SELECT p.shop_id, p.source_id, p.title, v.stock FROM products p \
     LEFT JOIN (SELECT shop_id, product_source_id, CAST(SUM(inventory_quantity) AS BIGINT) AS stock \
                FROM product_variants WHERE organization_id = $1 GROUP BY shop_id, product_source_id) v \
       ON v.shop_id = p.shop_id AND v.product_source_id = p.source_id \
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
            .fetch_all::<StockRow>(&self.routed("analytics"))
            .await?;
        let sales = self
            .product_sales_rows(&ProductQuery {
                org_id: org.clone(),
                shop_id: shop.cloned(),
                from,
                to,
            })
            .await?;
        // Units per product, over every currency.
        let mut sold: HashMap<(String, i64), i64> = HashMap::new();
        for r in sales.into_iter().filter(|r| r.variant_id.is_none()) {
            if let Some(product) = r.product_id {
                *sold.entry((r.shop_id.to_string(), product)).or_default() += r.units;
            }
        }
        let bad = || StoreError::Other("corrupt shop id in products".into());
        rows.into_iter()
            .map(|r| {
                let units_sold = sold
                    .get(&(r.shop_id.clone(), r.source_id))
                    .copied()
                    .unwrap_or(0);
                Ok(ProductStock {
                    shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad())?,
                    product_id: r.source_id,
                    title: r.title,
                    stock: r.stock,
                    units_sold,
                })
            })
            .collect()
    }
}
