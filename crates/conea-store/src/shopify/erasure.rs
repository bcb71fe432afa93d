//! Deletions and erasures of a shop's data: one object with its children, a customer's data
//! (read for a data request, redacted for an erasure request), and a whole shop.

use super::rows::{like_pattern, CustomerRow, OrderRow};
use crate::query::q;
use crate::SqlStore;
use conea_core::clock::EpochMs;
use conea_core::ids::ShopId;
use conea_core::store::StoreResult;
use conea_shopdata::RecordKind;
use conea_shopify::integration::store::{CustomerData, Erased};
use serde_json::json;

const SUBJECT: &str = "shop data";

pub(super) async fn delete_object(
    store: &SqlStore,
    shop: &ShopId,
    kind: RecordKind,
    source_id: i64,
) -> StoreResult<Erased> {
    // The children first, then the object; one transaction.
    let (children, object) = match kind {
        RecordKind::Products => (
            Some("DELETE FROM product_variants WHERE shop_id = $1 AND product_source_id = $2"),
            "DELETE FROM products WHERE shop_id = $1 AND source_id = $2",
        ),
        RecordKind::Orders => (
            Some("DELETE FROM order_line_items WHERE shop_id = $1 AND order_source_id = $2"),
            "DELETE FROM orders WHERE shop_id = $1 AND source_id = $2",
        ),
        RecordKind::Customers => (
            None,
            "DELETE FROM customers WHERE shop_id = $1 AND source_id = $2",
        ),
    };
    let db = store.primary(SUBJECT);
    let (children, objects) = db
        .timed("shopify_delete_object", object, async {
            let mut tx = db.begin().await?;
            let mut removed = 0;
            if let Some(sql) = children {
                removed = q("shopify_delete_object", sql)
                    .bind(shop.as_str())
                    .bind(source_id)
                    .execute_in(&mut tx)
                    .await?;
            }
            let objects = q("shopify_delete_object", object)
                .bind(shop.as_str())
                .bind(source_id)
                .execute_in(&mut tx)
                .await?;
            tx.commit().await?;
            Ok((removed, objects))
        })
        .await?;
    Ok(match kind {
        RecordKind::Products => Erased {
            products: objects,
            variants: children,
            ..Erased::default()
        },
        RecordKind::Orders => Erased {
            orders: objects,
            line_items: children,
            ..Erased::default()
        },
        RecordKind::Customers => Erased {
            customers: objects,
            ..Erased::default()
        },
    })
}

pub(super) async fn customer_data(
    store: &SqlStore,
    shop: &ShopId,
    customer_id: i64,
    email: Option<&str>,
) -> StoreResult<CustomerData> {
    const CUSTOMER: &str =
        "SELECT source_id, email, first_name, last_name, orders_count, total_spent_e4, \
         created_at, source_updated_at FROM customers WHERE shop_id = $1 AND source_id = $2";
    const ORDERS: &str =
        "SELECT source_id, name, email, customer_source_id, currency, total_price_e4, status, \
         financial_status, created_at, source_updated_at FROM orders \
         WHERE shop_id = $1 AND (customer_source_id = $2 OR ($3 IS NOT NULL AND email = $3)) \
         ORDER BY source_id";
    let db = store.primary(SUBJECT);
    let customer = q("shopify_customer", CUSTOMER)
        .bind(shop.as_str())
        .bind(customer_id)
        .fetch_optional::<CustomerRow>(&db)
        .await?;
    let orders = q("shopify_customer_orders", ORDERS)
        .bind(shop.as_str())
        .bind(customer_id)
        .bind(email)
        .fetch_all::<OrderRow>(&db)
        .await?;
    let money = |e4: i64| conea_shopdata::Money::from_units(e4).to_string();
    Ok(CustomerData {
        customer: customer.map(|c| {
            json!({
                "id": c.source_id, "email": c.email, "first_name": c.first_name,
                "last_name": c.last_name, "orders_count": c.orders_count,
                "total_spent": c.total_spent_e4.map(money),
                "created_at": c.created_at.map(conea_core::clock::rfc3339),
                "updated_at": conea_core::clock::rfc3339(c.source_updated_at),
            })
        }),
        orders: orders
            .into_iter()
            .map(|o| {
                json!({
                    "id": o.source_id, "name": o.name, "email": o.email,
                    "customer_id": o.customer_source_id, "currency": o.currency,
                    "total_price": money(o.total_price_e4), "status": o.status,
                    "financial_status": o.financial_status,
                    "created_at": conea_core::clock::rfc3339(o.created_at),
                    "updated_at": conea_core::clock::rfc3339(o.source_updated_at),
                })
            })
            .collect(),
    })
}

pub(super) async fn redact_customer(
    store: &SqlStore,
    shop: &ShopId,
    customer_id: i64,
    email: Option<&str>,
    listed_orders: &[i64],
) -> StoreResult<Erased> {
    const CUSTOMER: &str = "DELETE FROM customers WHERE shop_id = $1 AND source_id = $2";
    const LISTED: &str = "UPDATE orders SET email = NULL, customer_source_id = NULL \
         WHERE shop_id = $1 AND source_id = $2 AND (email IS NOT NULL OR customer_source_id IS NOT NULL)";
    // The customer's own orders (by customer id) and those the request lists; an order of
    // someone else that shares the e-mail is not named, so it stays.
    const ORDERS: &str = "UPDATE orders SET email = NULL, customer_source_id = NULL \
         WHERE shop_id = $1 AND customer_source_id = $2";
    const DELIVERIES: &str = "UPDATE shopify_webhook_deliveries SET payload = '{}' \
         WHERE shop_id = $1 AND payload <> '{}' AND (payload LIKE $2 ESCAPE '\\' OR ($3 IS NOT NULL AND payload LIKE $3 ESCAPE '\\'))";
    let id_pattern = like_pattern(&customer_id.to_string());
    let email_pattern = email.map(like_pattern);
    let db = store.primary(SUBJECT);
    db.timed("shopify_redact_customer", CUSTOMER, async {
        let mut tx = db.begin().await?;
        let customers = q("shopify_redact_customer", CUSTOMER)
            .bind(shop.as_str())
            .bind(customer_id)
            .execute_in(&mut tx)
            .await?;
        let mut orders = q("shopify_redact_customer", ORDERS)
            .bind(shop.as_str())
            .bind(customer_id)
            .execute_in(&mut tx)
            .await?;
        for id in listed_orders {
            orders += q("shopify_redact_customer", LISTED)
                .bind(shop.as_str())
                .bind(*id)
                .execute_in(&mut tx)
                .await?;
        }
        let deliveries = q("shopify_redact_customer", DELIVERIES)
            .bind(shop.as_str())
            .bind(&id_pattern)
            .bind(email_pattern.as_deref())
            .execute_in(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Erased {
            customers,
            orders,
            deliveries,
            ..Erased::default()
        })
    })
    .await
}

pub(super) async fn redact_shop(
    store: &SqlStore,
    shop: &ShopId,
    now: EpochMs,
) -> StoreResult<Erased> {
    const STATEMENTS: [&str; 7] = [
        "DELETE FROM order_line_items WHERE shop_id = $1",
        "DELETE FROM orders WHERE shop_id = $1",
        "DELETE FROM product_variants WHERE shop_id = $1",
        "DELETE FROM products WHERE shop_id = $1",
        "DELETE FROM customers WHERE shop_id = $1",
        "UPDATE shopify_webhook_deliveries SET payload = '{}' WHERE shop_id = $1 AND payload <> '{}'",
        "DELETE FROM shopify_sync_state WHERE shop_id = $1",
    ];
    const CREDENTIALS: &str =
        "UPDATE shopify_shops SET status = 'disconnected', access_token = NULL, \
         api_secret = NULL, previous_api_secret = NULL, updated_at = $2 WHERE shop_id = $1";
    let db = store.primary(SUBJECT);
    db.timed("shopify_redact_shop", CREDENTIALS, async {
        let mut tx = db.begin().await?;
        let mut n = [0u64; 7];
        for (i, sql) in STATEMENTS.iter().enumerate() {
            n[i] = q("shopify_redact_shop", sql)
                .bind(shop.as_str())
                .execute_in(&mut tx)
                .await?;
        }
        q("shopify_redact_shop", CREDENTIALS)
            .bind(shop.as_str())
            .bind(now)
            .execute_in(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Erased {
            line_items: n[0],
            orders: n[1],
            variants: n[2],
            products: n[3],
            customers: n[4],
            deliveries: n[5],
        })
    })
    .await
}
