//! The read API's products (with their variants) and customers (with what their orders add
//! up to): keyset pages and records by id (routable reads).

use super::read_sql::{by_shop, patterns, placeholders, Select};
use super::reads::{by_id_sql, shop_id};
use crate::query::{q_built, Value};
use crate::SqlStore;
use conea_core::ids::{OrgId, ShopId};
use conea_core::store::StoreResult;
use conea_shopdata::reads::query::{
    CustomerFilter, CustomerOrders, CustomerSort, Keyset, Listed, ProductFilter, ProductSort,
    ReadScope, RecordSort, SegmentCell,
};
use conea_shopdata::{Customer, Money, Product, Variant};
use std::collections::HashMap;

const PRODUCT: &str = "product";
const CUSTOMER: &str = "customer";

const PRODUCT_COLUMNS: &str = "SELECT shop_id, source_id, title, vendor, product_type, status, \
     created_at, source_updated_at FROM products";
const CUSTOMER_COLUMNS: &str = "SELECT shop_id, source_id, email, first_name, last_name, \
     orders_count, total_spent_e4, created_at, source_updated_at FROM customers";

#[derive(sqlx::FromRow)]
struct ProductRow {
    shop_id: String,
    source_id: i64,
    title: String,
    vendor: Option<String>,
    product_type: Option<String>,
    status: Option<String>,
    created_at: Option<i64>,
    source_updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct VariantRow {
    product_source_id: i64,
    source_id: i64,
    title: Option<String>,
    sku: Option<String>,
    price_e4: Option<i64>,
    inventory_quantity: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    shop_id: String,
    source_id: i64,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    orders_count: Option<i64>,
    total_spent_e4: Option<i64>,
    created_at: Option<i64>,
    source_updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct CustomerOrdersRow {
    customer_source_id: i64,
    currency: String,
    orders: i64,
    total: i64,
    first_at: i64,
    last_at: i64,
}

impl ProductRow {
    fn into_listed(self) -> StoreResult<Listed<Product>> {
        Ok(Listed {
            shop_id: shop_id(&self.shop_id, "products")?,
            record: Product {
                source_id: self.source_id,
                title: self.title,
                vendor: self.vendor,
                product_type: self.product_type,
                status: self.status,
                created_at: self.created_at,
                updated_at: self.source_updated_at,
                variants: Vec::new(),
            },
        })
    }
}

impl CustomerRow {
    fn into_listed(self) -> StoreResult<Listed<Customer>> {
        Ok(Listed {
            shop_id: shop_id(&self.shop_id, "customers")?,
            record: Customer {
                source_id: self.source_id,
                email: self.email,
                first_name: self.first_name,
                last_name: self.last_name,
                orders_count: self.orders_count,
                total_spent: self.total_spent_e4.map(Money::from_units),
                created_at: self.created_at,
                updated_at: self.source_updated_at,
            },
        })
    }
}

fn record_key(sort: RecordSort) -> &'static str {
    if sort.by_created() {
        "COALESCE(created_at, 0)"
    } else {
        "source_updated_at"
    }
}

/// The filters the product and customer lists share.
fn common<'q>(s: &mut Select<'q>, from: Option<i64>, to: Option<i64>, updated_since: Option<i64>) {
    s.and("created_at", ">=", from);
    s.and("created_at", "<", to);
    s.and("source_updated_at", ">=", updated_since);
}

impl SqlStore {
    pub(super) async fn read_products(
        &self,
        scope: &ReadScope,
        f: &ProductFilter,
        page: &Keyset<ProductSort>,
    ) -> StoreResult<Vec<Listed<Product>>> {
        let mut s = Select::new(PRODUCT_COLUMNS, scope);
        common(&mut s, f.created_from, f.created_to, f.updated_since);
        s.and("LOWER(status)", "=", f.status.clone());
        s.and("vendor", "=", f.vendor.clone());
        s.and("product_type", "=", f.product_type.clone());
        if let Some(text) = f.q.as_deref() {
            let p = patterns(Some(text), false).remove(0);
            s.push(" AND (LOWER(title) LIKE ");
            s.push_bind(p.clone().into());
            s.push(
                " ESCAPE '\\' OR (shop_id, source_id) IN (SELECT shop_id, product_source_id \
                 FROM product_variants WHERE organization_id = $1 AND LOWER(sku) LIKE ",
            );
            s.push_bind(p.into());
            s.push(" ESCAPE '\\'))");
        }
        s.page(record_key(page.sort.0), page);
        let rows = s
            .query(
                "list_products",
                "SELECT … FROM products WHERE <filters> <keyset> ORDER BY … LIMIT",
            )
            .fetch_all::<ProductRow>(&self.routed(PRODUCT))
            .await?;
        self.with_variants(rows).await
    }

    pub(super) async fn read_products_by_id(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> StoreResult<Vec<Listed<Product>>> {
        let sql = by_id_sql(PRODUCT_COLUMNS, scope.shop_id.is_some());
        let mut query = q_built("get_products", "SELECT … FROM products WHERE <id>", sql)
            .bind(scope.org_id.as_str());
        if let Some(shop) = &scope.shop_id {
            query = query.bind(shop.as_str());
        }
        let rows = query
            .bind(id)
            .fetch_all::<ProductRow>(&self.routed(PRODUCT))
            .await?;
        self.with_variants(rows).await
    }

    /// The products with their variants (one statement per shop of the page).
    async fn with_variants(&self, rows: Vec<ProductRow>) -> StoreResult<Vec<Listed<Product>>> {
        let mut products: Vec<Listed<Product>> = rows
            .into_iter()
            .map(ProductRow::into_listed)
            .collect::<StoreResult<_>>()?;
        let keys = products
            .iter()
            .map(|p| (p.shop_id.clone(), p.record.source_id));
        for (shop, ids) in by_shop(keys) {
            let index: HashMap<i64, usize> = products
                .iter()
                .enumerate()
                .filter(|(_, p)| p.shop_id == shop)
                .map(|(i, p)| (p.record.source_id, i))
                .collect();
            let sql = format!(
                "SELECT product_source_id, source_id, title, sku, price_e4, inventory_quantity \
                 FROM product_variants WHERE shop_id = $1 AND product_source_id IN ({}) \
                 ORDER BY product_source_id, source_id",
                placeholders(2, ids.len())
            );
            let mut query = q_built(
                "page_variants",
                "SELECT … FROM product_variants WHERE <page>",
                sql,
            )
            .bind(shop.as_str().to_owned());
            for id in &ids {
                query = query.bind(*id);
            }
            let variants = query.fetch_all::<VariantRow>(&self.routed(PRODUCT)).await?;
            for v in variants {
                let at = index.get(&v.product_source_id).copied();
                if let Some(p) = at.and_then(|i| products.get_mut(i)) {
                    p.record.variants.push(Variant {
                        source_id: v.source_id,
                        title: v.title,
                        sku: v.sku,
                        price: v.price_e4.map(Money::from_units),
                        inventory_quantity: v.inventory_quantity,
                    });
                }
            }
        }
        Ok(products)
    }

    pub(super) async fn read_customers(
        &self,
        scope: &ReadScope,
        f: &CustomerFilter,
        page: &Keyset<CustomerSort>,
    ) -> StoreResult<Vec<Listed<Customer>>> {
        let mut s = Select::new(CUSTOMER_COLUMNS, scope);
        common(&mut s, f.created_from, f.created_to, f.updated_since);
        s.prefix(
            &["email", "first_name", "last_name"],
            &patterns(f.q.as_deref(), false),
        );
        if let Some(segment) = &f.segment {
            segment_clause(&mut s, &segment.cells);
        }
        s.page(record_key(page.sort.0), page);
        s.query(
            "list_customers",
            "SELECT … FROM customers WHERE <filters> <keyset> ORDER BY … LIMIT",
        )
        .fetch_all::<CustomerRow>(&self.routed(CUSTOMER))
        .await?
        .into_iter()
        .map(CustomerRow::into_listed)
        .collect()
    }

    pub(super) async fn read_customers_by_id(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> StoreResult<Vec<Listed<Customer>>> {
        let sql = by_id_sql(CUSTOMER_COLUMNS, scope.shop_id.is_some());
        let mut query = q_built("get_customers", "SELECT … FROM customers WHERE <id>", sql)
            .bind(scope.org_id.as_str());
        if let Some(shop) = &scope.shop_id {
            query = query.bind(shop.as_str());
        }
        query
            .bind(id)
            .fetch_all::<CustomerRow>(&self.routed(CUSTOMER))
            .await?
            .into_iter()
            .map(CustomerRow::into_listed)
            .collect()
    }

    /// Per customer and currency: the orders that are not cancelled, their total, the first
    /// and the last (one statement per shop).
    pub(super) async fn read_customer_orders(
        &self,
        org: &OrgId,
        customers: &[(ShopId, i64)],
    ) -> StoreResult<Vec<CustomerOrders>> {
        let mut out = Vec::new();
        for (shop, ids) in by_shop(customers.iter().cloned()) {
            let sql = format!(
                "SELECT customer_source_id, currency, COUNT(*) AS orders, \
                 CAST(SUM(total_price_e4) AS BIGINT) AS total, MIN(created_at) AS first_at, \
                 MAX(created_at) AS last_at FROM orders \
                 WHERE organization_id = $1 AND shop_id = $2 AND customer_source_id IN ({}) \
                 AND cancelled_at IS NULL GROUP BY customer_source_id, currency",
                placeholders(3, ids.len())
            );
            let mut query = q_built(
                "customer_orders",
                "SELECT … FROM orders WHERE customer_source_id IN <page> GROUP BY …",
                sql,
            )
            .bind(org.as_str())
            .bind(shop.as_str().to_owned());
            for id in &ids {
                query = query.bind(*id);
            }
            let rows = query
                .fetch_all::<CustomerOrdersRow>(&self.routed(CUSTOMER))
                .await?;
            out.extend(rows.into_iter().map(|r| CustomerOrders {
                shop_id: shop.clone(),
                customer_id: r.customer_source_id,
                currency: r.currency,
                orders: r.orders,
                total: Money::from_units(r.total),
                first_at: r.first_at,
                last_at: r.last_at,
            }));
        }
        Ok(out)
    }
}

/// ` AND EXISTS (…)`: the customer has a row of `customer_sales` (a currency they bought in)
/// inside one of the segment's cells; no cell, no customer.
fn segment_clause<'q>(s: &mut Select<'q>, cells: &'q [SegmentCell]) {
    if cells.is_empty() {
        s.push(" AND 1 = 0");
        return;
    }
    s.push(
        " AND EXISTS (SELECT 1 FROM customer_sales cs WHERE cs.organization_id = customers.organization_id \
         AND cs.shop_id = customers.shop_id AND cs.customer_source_id = customers.source_id \
         AND cs.order_count > 0 AND (",
    );
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            s.push(" OR ");
        }
        s.push("(cs.currency = ");
        s.push_bind(Value::from(c.currency.as_str()));
        s.push(" AND cs.last_order_at > ");
        s.push_bind(Value::Int(Some(c.last_after)));
        s.push(" AND cs.last_order_at <= ");
        s.push_bind(Value::Int(Some(c.last_until)));
        s.push(" AND cs.order_count >= ");
        s.push_bind(Value::Int(Some(c.orders_min)));
        s.push(" AND cs.order_count <= ");
        s.push_bind(Value::Int(Some(c.orders_max)));
        s.push(")");
    }
    s.push("))");
}
