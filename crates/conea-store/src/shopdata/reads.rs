//! The read API's orders: keyset pages of the order list and orders by id with their line
//! items (routable reads: they may run on the replica within a routed request).

use super::read_sql::{patterns, Select};
use crate::query::q;
use crate::SqlStore;
use conea_core::ids::ShopId;
use conea_core::store::{StoreError, StoreResult};
use conea_shopdata::reads::query::{Keyset, Listed, OrderFilter, OrderSort, ReadScope};
use conea_shopdata::{LineItem, Money, Order};

pub(super) const ORDER: &str = "order";

const ORDER_COLUMNS: &str =
    "SELECT shop_id, source_id, name, email, customer_source_id, currency, \
     total_price_e4, subtotal_price_e4, financial_status, fulfillment_status, created_at, \
     cancelled_at, closed_at, source_updated_at, discounts_e4, refunded_e4 FROM orders";

#[derive(sqlx::FromRow)]
struct OrderRow {
    shop_id: String,
    source_id: i64,
    name: Option<String>,
    email: Option<String>,
    customer_source_id: Option<i64>,
    currency: String,
    total_price_e4: i64,
    subtotal_price_e4: Option<i64>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    created_at: i64,
    cancelled_at: Option<i64>,
    closed_at: Option<i64>,
    source_updated_at: i64,
    discounts_e4: i64,
    refunded_e4: i64,
}

#[derive(sqlx::FromRow)]
struct LineItemRow {
    source_id: i64,
    product_source_id: Option<i64>,
    variant_source_id: Option<i64>,
    title: String,
    sku: Option<String>,
    quantity: i64,
    price_e4: i64,
}

/// A stored shop id back as a typed one.
pub(super) fn shop_id(text: &str, table: &str) -> StoreResult<ShopId> {
    ShopId::parse(text).map_err(|_| StoreError::Other(format!("corrupt shop id in {table} row")))
}

impl OrderRow {
    fn into_listed(self) -> StoreResult<Listed<Order>> {
        Ok(Listed {
            shop_id: shop_id(&self.shop_id, "orders")?,
            record: Order {
                source_id: self.source_id,
                name: self.name,
                email: self.email,
                customer_id: self.customer_source_id,
                currency: self.currency,
                total_price: Money::from_units(self.total_price_e4),
                subtotal_price: self.subtotal_price_e4.map(Money::from_units),
                financial_status: self.financial_status,
                fulfillment_status: self.fulfillment_status,
                created_at: self.created_at,
                updated_at: self.source_updated_at,
                cancelled_at: self.cancelled_at,
                closed_at: self.closed_at,
                total_discounts: Money::from_units(self.discounts_e4),
                total_refunded: Money::from_units(self.refunded_e4),
                line_items: Vec::new(),
            },
        })
    }
}

/// `WHERE` of a read by id: the organization, its one shop or any of its shops.
pub(super) fn by_id_sql(columns: &str, scoped_to_shop: bool) -> String {
    if scoped_to_shop {
        format!("{columns} WHERE organization_id = $1 AND shop_id = $2 AND source_id = $3")
    } else {
        format!(
            "{columns} WHERE shop_id IN (SELECT id FROM shops WHERE organization_id = $1) \
             AND organization_id = $1 AND source_id = $2 ORDER BY shop_id"
        )
    }
}

impl SqlStore {
    pub(super) async fn read_orders(
        &self,
        scope: &ReadScope,
        f: &OrderFilter,
        page: &Keyset<OrderSort>,
    ) -> StoreResult<Vec<Listed<Order>>> {
        let mut s = Select::new(ORDER_COLUMNS, scope);
        s.and("created_at", ">=", f.created_from);
        s.and("created_at", "<", f.created_to);
        s.and("source_updated_at", ">=", f.updated_since);
        s.and("LOWER(financial_status)", "=", f.financial_status.clone());
        s.and(
            "LOWER(fulfillment_status)",
            "=",
            f.fulfillment_status.clone(),
        );
        s.and("customer_source_id", "=", f.customer_id);
        if let Some(product) = f.product_id {
            s.push(
                " AND (shop_id, source_id) IN (SELECT shop_id, order_source_id FROM order_line_items \
                 WHERE organization_id = $1 AND product_source_id = ",
            );
            s.push_bind(product.into());
            s.push(")");
        }
        s.prefix(&["name", "email"], &patterns(f.q.as_deref(), true));
        let key = match page.sort {
            OrderSort::CreatedAt | OrderSort::CreatedAtDesc => "created_at",
            OrderSort::TotalPrice | OrderSort::TotalPriceDesc => "total_price_e4",
        };
        s.page(key, page);
        s.query(
            "list_orders",
            "SELECT … FROM orders WHERE <filters> <keyset> ORDER BY … LIMIT",
        )
        .fetch_all::<OrderRow>(&self.routed(ORDER))
        .await?
        .into_iter()
        .map(OrderRow::into_listed)
        .collect()
    }

    pub(super) async fn read_orders_by_id(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> StoreResult<Vec<Listed<Order>>> {
        let sql = by_id_sql(ORDER_COLUMNS, scope.shop_id.is_some());
        let mut query = crate::query::q_built("get_orders", "SELECT … FROM orders WHERE <id>", sql)
            .bind(scope.org_id.as_str());
        if let Some(shop) = &scope.shop_id {
            query = query.bind(shop.as_str());
        }
        let rows = query
            .bind(id)
            .fetch_all::<OrderRow>(&self.routed(ORDER))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut listed = row.into_listed()?;
            listed.record.line_items = self.read_line_items(&listed.shop_id, id).await?;
            out.push(listed);
        }
        Ok(out)
    }

    async fn read_line_items(&self, shop: &ShopId, order: i64) -> StoreResult<Vec<LineItem>> {
        const SQL: &str = "SELECT source_id, product_source_id, variant_source_id, title, sku, \
             quantity, price_e4 FROM order_line_items WHERE shop_id = $1 AND order_source_id = $2 \
             ORDER BY source_id";
        let rows = q("get_order_line_items", SQL)
            .bind(shop.as_str())
            .bind(order)
            .fetch_all::<LineItemRow>(&self.routed(ORDER))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| LineItem {
                source_id: r.source_id,
                product_id: r.product_source_id,
                variant_id: r.variant_source_id,
                title: r.title,
                sku: r.sku,
                quantity: r.quantity,
                price: Money::from_units(r.price_e4),
            })
            .collect())
    }
}
