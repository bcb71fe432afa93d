//! `ShopifyStore` on SQL: connections (sealed credentials, status, counters), webhook
//! deliveries stored in the same transaction as their job, sync cursors, and the deletions
//! and erasures of products, customers and shops.

use crate::errors::map;
use crate::jobs::{bind_new_job, insert_job_sql};
use crate::{with_pool, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_jobs::NewJob;
use conea_shopdata::RecordKind;
use conea_shopify::integration::store::{
    CustomerData, Delivery, DeliveryStored, Erased, NewConnection, NewDelivery, SealedCredentials,
    ShopifyShop, ShopifyStatus, ShopifyStore, SyncState,
};
use serde_json::json;

/// A connection with its delivery counters, read from the deliveries table (`s` is
/// `shopify_shops`).
const SHOP_COLUMNS: &str = "s.shop_id, s.organization_id, s.domain, s.api_version, s.status, \
    s.status_message, s.last_sync_at, s.webhooks_rejected, s.created_at, \
    (SELECT COUNT(*) FROM shopify_webhook_deliveries d WHERE d.shop_id = s.shop_id) AS webhooks_received, \
    (SELECT MAX(d.received_at) FROM shopify_webhook_deliveries d WHERE d.shop_id = s.shop_id) AS last_webhook_at";

/// The same without the counters (the webhook path reads the connection on every delivery).
const SHOP_COLUMNS_NO_COUNTERS: &str =
    "s.shop_id, s.organization_id, s.domain, s.api_version, s.status, \
    s.status_message, s.last_sync_at, s.webhooks_rejected, s.created_at, \
    CAST(0 AS BIGINT) AS webhooks_received, CAST(NULL AS BIGINT) AS last_webhook_at";

#[derive(sqlx::FromRow)]
struct ShopifyRow {
    shop_id: String,
    organization_id: String,
    domain: String,
    api_version: String,
    status: String,
    status_message: Option<String>,
    last_sync_at: Option<i64>,
    webhooks_received: i64,
    webhooks_rejected: i64,
    last_webhook_at: Option<i64>,
    created_at: i64,
}

impl ShopifyRow {
    fn into_model(self) -> StoreResult<ShopifyShop> {
        let bad = |what: &str| StoreError::Other(format!("corrupt {what} in shopify_shops row"));
        Ok(ShopifyShop {
            shop_id: ShopId::parse(&self.shop_id).map_err(|_| bad("shop id"))?,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization id"))?,
            domain: self.domain,
            api_version: self.api_version,
            status: ShopifyStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            status_message: self.status_message,
            last_sync_at: self.last_sync_at,
            webhooks_received: self.webhooks_received,
            webhooks_rejected: self.webhooks_rejected,
            last_webhook_at: self.last_webhook_at,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    #[sqlx(flatten)]
    shop: ShopifyRow,
    access_token: Option<String>,
    api_secret: Option<String>,
    previous_api_secret: Option<String>,
}

impl CredentialRow {
    fn into_model(self) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>> {
        let (Some(access_token), Some(api_secret)) = (self.access_token, self.api_secret) else {
            return Ok(None);
        };
        Ok(Some((
            self.shop.into_model()?,
            SealedCredentials {
                access_token,
                api_secret,
                previous_api_secret: self.previous_api_secret,
            },
        )))
    }
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    shop_id: String,
    organization_id: String,
    dedup_key: String,
    topic: String,
    payload: String,
    job_id: String,
    received_at: i64,
    processed_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SyncRow {
    cursor: Option<String>,
    pass_min: Option<i64>,
    pass_started_at: Option<i64>,
    pass_synced: i64,
    updated_at_min: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
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
struct OrderRow {
    source_id: i64,
    name: Option<String>,
    email: Option<String>,
    customer_source_id: Option<i64>,
    currency: String,
    total_price_e4: i64,
    status: String,
    financial_status: Option<String>,
    created_at: i64,
    source_updated_at: i64,
}

/// `%text%` for a LIKE that matches `text` literally (`%`, `_` and `\` escaped).
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn erase_err(e: sqlx::Error) -> StoreError {
    map(e, "shop data")
}

#[async_trait]
impl ShopifyStore for SqlStore {
    async fn connect(&self, c: &NewConnection, now: EpochMs) -> StoreResult<ShopifyShop> {
        const SHOP: &str = "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, $3, $3, 'shopify', NULL, $4) ON CONFLICT (organization_id, domain) DO NOTHING";
        const FIND: &str =
            "SELECT id FROM shops WHERE organization_id = $1 AND domain = $2 AND kind = 'shopify'";
        const UPSERT: &str = "INSERT INTO shopify_shops (shop_id, organization_id, domain, access_token, api_secret, \
             previous_api_secret, api_version, status, status_message, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', NULL, $8, $8) \
             ON CONFLICT (shop_id) DO UPDATE SET access_token = excluded.access_token, \
             api_secret = excluded.api_secret, previous_api_secret = excluded.previous_api_secret, \
             api_version = excluded.api_version, status = 'active', status_message = NULL, \
             updated_at = excluded.updated_at";
        let creds = &c.credentials;
        let shop_id: String = self
            .stats
            .time("shopify_connect", UPSERT, async {
                with_pool!(&self.db, |p| {
                    let mut tx = p.begin().await?;
                    sqlx::query::<DB>(SHOP)
                        .bind(c.new_shop_id.as_str())
                        .bind(c.org_id.as_str())
                        .bind(&c.domain)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let id: Option<String> = sqlx::query_scalar::<DB, String>(FIND)
                        .bind(c.org_id.as_str())
                        .bind(&c.domain)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(id) = id else {
                        // A manual shop cannot have a domain; nothing else can take it.
                        return Err(sqlx::Error::RowNotFound);
                    };
                    sqlx::query::<DB>(UPSERT)
                        .bind(&id)
                        .bind(c.org_id.as_str())
                        .bind(&c.domain)
                        .bind(&creds.access_token)
                        .bind(&creds.api_secret)
                        .bind(creds.previous_api_secret.as_deref())
                        .bind(&c.api_version)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(id)
                })
            })
            .await
            .map_err(|e| map(e, "Shopify connection for this shop domain"))?;
        let shop_id = ShopId::parse(&shop_id)
            .map_err(|_| StoreError::Other("corrupt shop id in shops".into()))?;
        self.get_shopify_shop(&c.org_id, &shop_id)
            .await?
            .ok_or_else(|| StoreError::Other("Shopify connection vanished after connect".into()))
    }

    async fn list_shopify_shops(&self, org: &OrgId) -> StoreResult<Vec<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS} FROM shopify_shops s WHERE s.organization_id = $1 ORDER BY s.shop_id"
        );
        let rows = with_pool!(&self.db, |p| sqlx::query_as::<DB, ShopifyRow>(&sql)
            .bind(org.as_str())
            .fetch_all(p)
            .await)
        .map_err(|e| map(e, "shop"))?;
        rows.into_iter().map(ShopifyRow::into_model).collect()
    }

    async fn get_shopify_shop(
        &self,
        org: &OrgId,
        shop: &ShopId,
    ) -> StoreResult<Option<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS} FROM shopify_shops s WHERE s.organization_id = $1 AND s.shop_id = $2"
        );
        let row = with_pool!(&self.db, |p| sqlx::query_as::<DB, ShopifyRow>(&sql)
            .bind(org.as_str())
            .bind(shop.as_str())
            .fetch_optional(p)
            .await)
        .map_err(|e| map(e, "shop"))?;
        row.map(ShopifyRow::into_model).transpose()
    }

    async fn shopify_shops_with_status(
        &self,
        status: ShopifyStatus,
    ) -> StoreResult<Vec<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS} FROM shopify_shops s WHERE s.status = $1 ORDER BY s.shop_id LIMIT 100"
        );
        let rows = with_pool!(&self.db, |p| sqlx::query_as::<DB, ShopifyRow>(&sql)
            .bind(status.as_str())
            .fetch_all(p)
            .await)
        .map_err(|e| map(e, "shop"))?;
        rows.into_iter().map(ShopifyRow::into_model).collect()
    }

    async fn credentials_by_domain(
        &self,
        domain: &str,
    ) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>> {
        let sql = format!(
                "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.access_token, s.api_secret, s.previous_api_secret \
                 FROM shopify_shops s WHERE s.domain = $1 AND s.status <> 'disconnected'"
            );
        let row = self
            .stats
            .time(
                "shopify_credentials_by_domain",
                "SELECT … FROM shopify_shops WHERE domain = $1",
                async {
                    with_pool!(&self.db, |p| sqlx::query_as::<DB, CredentialRow>(&sql)
                        .bind(domain)
                        .fetch_optional(p)
                        .await)
                },
            )
            .await
            .map_err(|e| map(e, "shop"))?;
        Ok(row.map(CredentialRow::into_model).transpose()?.flatten())
    }

    async fn credentials(
        &self,
        shop: &ShopId,
    ) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>> {
        let sql = format!(
                "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.access_token, s.api_secret, s.previous_api_secret \
                 FROM shopify_shops s WHERE s.shop_id = $1"
            );
        let row = with_pool!(&self.db, |p| sqlx::query_as::<DB, CredentialRow>(&sql)
            .bind(shop.as_str())
            .fetch_optional(p)
            .await)
        .map_err(|e| map(e, "shop"))?;
        Ok(row.map(CredentialRow::into_model).transpose()?.flatten())
    }

    async fn disconnect(&self, org: &OrgId, shop: &ShopId, now: EpochMs) -> StoreResult<bool> {
        const SQL: &str = "UPDATE shopify_shops SET status = 'disconnected', access_token = NULL, \
                 api_secret = NULL, previous_api_secret = NULL, status_message = NULL, updated_at = $3 \
                 WHERE organization_id = $1 AND shop_id = $2";
        let n = with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(org.as_str())
            .bind(shop.as_str())
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| map(e, "shop"))?;
        Ok(n > 0)
    }

    async fn set_status(
        &self,
        shop: &ShopId,
        status: ShopifyStatus,
        message: Option<&str>,
        now: EpochMs,
    ) -> StoreResult<()> {
        // A disconnected shop stays disconnected (its credentials are gone).
        const SQL: &str =
            "UPDATE shopify_shops SET status = $2, status_message = $3, updated_at = $4 \
                 WHERE shop_id = $1 AND status <> 'disconnected'";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(shop.as_str())
            .bind(status.as_str())
            .bind(message)
            .bind(now)
            .execute(p)
            .await
            .map(drop))
        .map_err(|e| map(e, "shop"))
    }

    async fn count_rejected_webhook(&self, shop: &ShopId, now: EpochMs) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_shops SET webhooks_rejected = webhooks_rejected + 1, \
                 updated_at = $2 WHERE shop_id = $1";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(shop.as_str())
            .bind(now)
            .execute(p)
            .await
            .map(drop))
        .map_err(|e| map(e, "shop"))
    }

    async fn set_last_sync(&self, shop: &ShopId, now: EpochMs) -> StoreResult<()> {
        const SQL: &str =
            "UPDATE shopify_shops SET last_sync_at = $2, updated_at = $2 WHERE shop_id = $1";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(shop.as_str())
            .bind(now)
            .execute(p)
            .await
            .map(drop))
        .map_err(|e| map(e, "shop"))
    }

    async fn store_delivery(
        &self,
        d: &NewDelivery,
        job: &NewJob,
        now: EpochMs,
    ) -> StoreResult<DeliveryStored> {
        // No counter row is touched: a per-shop counter would be one hot row that every
        // delivery of the shop locks until its commit (counts are read from this table).
        const INSERT: &str =
            "INSERT INTO shopify_webhook_deliveries (shop_id, dedup_key, organization_id, topic, \
                 webhook_id, event_id, api_version, triggered_at, payload, job_id, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (shop_id, dedup_key) DO NOTHING RETURNING job_id";
        const EXISTING: &str = "SELECT job_id FROM shopify_webhook_deliveries \
                 WHERE shop_id = $1 AND dedup_key = $2";
        let job_sql = insert_job_sql();
        let new_id = JobId::generate();
        let notify = matches!(self.db, crate::Db::Postgres(_));
        let (created, job_id) = self
            .stats
            .time("shopify_store_delivery", INSERT, async {
                with_pool!(&self.db, |p| {
                    let mut tx = p.begin().await?;
                    let inserted: Option<String> = sqlx::query_scalar::<DB, String>(INSERT)
                        .bind(d.shop_id.as_str())
                        .bind(&d.dedup_key)
                        .bind(d.org_id.as_str())
                        .bind(&d.topic)
                        .bind(d.webhook_id.as_deref())
                        .bind(d.event_id.as_deref())
                        .bind(d.api_version.as_deref())
                        .bind(d.triggered_at)
                        .bind(&d.payload)
                        .bind(new_id.as_str())
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let out = match inserted {
                        Some(id) => {
                            bind_new_job!(sqlx::query::<DB>(&job_sql), &new_id, job, now)
                                .execute(&mut *tx)
                                .await?;
                            if notify {
                                // Sent to listening workers at commit, without a round trip
                                // of its own.
                                sqlx::query::<DB>("SELECT pg_notify($1, '')")
                                    .bind(crate::jobs::CHANNEL)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            (true, id)
                        }
                        None => {
                            let id = sqlx::query_scalar::<DB, String>(EXISTING)
                                .bind(d.shop_id.as_str())
                                .bind(&d.dedup_key)
                                .fetch_one(&mut *tx)
                                .await?;
                            (false, id)
                        }
                    };
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(out)
                })
            })
            .await
            .map_err(|e| map(e, "webhook delivery"))?;
        if created {
            // This process's workers (SQLite has no NOTIFY).
            self.jobs_wake.notify_waiters();
        }
        Ok(DeliveryStored {
            created,
            job_id: JobId::parse(&job_id)
                .map_err(|_| StoreError::Other("corrupt job id in a delivery".into()))?,
        })
    }

    async fn delivery(&self, shop: &ShopId, dedup_key: &str) -> StoreResult<Option<Delivery>> {
        const SQL: &str = "SELECT shop_id, organization_id, dedup_key, topic, payload, job_id, received_at, \
                 processed_at FROM shopify_webhook_deliveries WHERE shop_id = $1 AND dedup_key = $2";
        let row = with_pool!(&self.db, |p| sqlx::query_as::<DB, DeliveryRow>(SQL)
            .bind(shop.as_str())
            .bind(dedup_key)
            .fetch_optional(p)
            .await)
        .map_err(|e| map(e, "webhook delivery"))?;
        let Some(r) = row else { return Ok(None) };
        let bad = |w: &str| StoreError::Other(format!("corrupt {w} in a delivery"));
        Ok(Some(Delivery {
            shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad("shop id"))?,
            org_id: OrgId::parse(&r.organization_id).map_err(|_| bad("organization id"))?,
            dedup_key: r.dedup_key,
            topic: r.topic,
            payload: r.payload,
            job_id: JobId::parse(&r.job_id).map_err(|_| bad("job id"))?,
            received_at: r.received_at,
            processed_at: r.processed_at,
        }))
    }

    async fn prune_deliveries(&self, before: EpochMs) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM shopify_webhook_deliveries \
             WHERE processed_at IS NOT NULL AND received_at < $1";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(before)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| map(e, "webhook delivery"))
    }

    async fn mark_delivery_processed(
        &self,
        shop: &ShopId,
        dedup_key: &str,
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_webhook_deliveries SET processed_at = $3 \
                 WHERE shop_id = $1 AND dedup_key = $2";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(shop.as_str())
            .bind(dedup_key)
            .bind(now)
            .execute(p)
            .await
            .map(drop))
        .map_err(|e| map(e, "webhook delivery"))
    }

    async fn sync_state(&self, shop: &ShopId, resource: RecordKind) -> StoreResult<SyncState> {
        const SQL: &str = "SELECT cursor, pass_min, pass_started_at, pass_synced, updated_at_min \
                 FROM shopify_sync_state WHERE shop_id = $1 AND resource = $2";
        let row = with_pool!(&self.db, |p| sqlx::query_as::<DB, SyncRow>(SQL)
            .bind(shop.as_str())
            .bind(resource.as_str())
            .fetch_optional(p)
            .await)
        .map_err(|e| map(e, "sync state"))?;
        Ok(row
            .map(|r| SyncState {
                cursor: r.cursor,
                pass_min: r.pass_min,
                pass_started_at: r.pass_started_at,
                pass_synced: r.pass_synced,
                updated_at_min: r.updated_at_min,
            })
            .unwrap_or_default())
    }

    async fn save_sync_state(
        &self,
        shop: &ShopId,
        resource: RecordKind,
        s: &SyncState,
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO shopify_sync_state (shop_id, resource, cursor, pass_min, pass_started_at, \
                 pass_synced, updated_at_min, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (shop_id, resource) DO UPDATE SET cursor = excluded.cursor, pass_min = excluded.pass_min, \
                 pass_started_at = excluded.pass_started_at, pass_synced = excluded.pass_synced, \
                 updated_at_min = excluded.updated_at_min, updated_at = excluded.updated_at";
        with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
            .bind(shop.as_str())
            .bind(resource.as_str())
            .bind(s.cursor.as_deref())
            .bind(s.pass_min)
            .bind(s.pass_started_at)
            .bind(s.pass_synced)
            .bind(s.updated_at_min)
            .bind(now)
            .execute(p)
            .await
            .map(drop))
        .map_err(|e| map(e, "sync state"))
    }

    async fn delete_object(
        &self,
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
        let (children, objects) = async {
            with_pool!(&self.db, |p| {
                let mut tx = p.begin().await?;
                let mut removed = 0;
                if let Some(sql) = children {
                    removed = sqlx::query::<DB>(sql)
                        .bind(shop.as_str())
                        .bind(source_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                let objects = sqlx::query::<DB>(object)
                    .bind(shop.as_str())
                    .bind(source_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>((removed, objects))
            })
        }
        .await
        .map_err(erase_err)?;
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

    async fn customer_data(
        &self,
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
        let (customer, orders) = async {
            with_pool!(&self.db, |p| {
                let c = sqlx::query_as::<DB, CustomerRow>(CUSTOMER)
                    .bind(shop.as_str())
                    .bind(customer_id)
                    .fetch_optional(p)
                    .await?;
                let o = sqlx::query_as::<DB, OrderRow>(ORDERS)
                    .bind(shop.as_str())
                    .bind(customer_id)
                    .bind(email)
                    .fetch_all(p)
                    .await?;
                Ok::<_, sqlx::Error>((c, o))
            })
        }
        .await
        .map_err(|e| map(e, "shop data"))?;
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

    async fn redact_customer(
        &self,
        shop: &ShopId,
        customer_id: i64,
        email: Option<&str>,
        listed_orders: &[i64],
    ) -> StoreResult<Erased> {
        const CUSTOMER: &str = "DELETE FROM customers WHERE shop_id = $1 AND source_id = $2";
        const LISTED: &str = "UPDATE orders SET email = NULL, customer_source_id = NULL \
             WHERE shop_id = $1 AND source_id = $2 AND (email IS NOT NULL OR customer_source_id IS NOT NULL)";
        const ORDERS: &str = "UPDATE orders SET email = NULL, customer_source_id = NULL \
             WHERE shop_id = $1 AND (customer_source_id = $2 OR ($3 IS NOT NULL AND email = $3))";
        const DELIVERIES: &str = "UPDATE shopify_webhook_deliveries SET payload = '{}' \
             WHERE shop_id = $1 AND payload <> '{}' AND (payload LIKE $2 ESCAPE '\\' OR ($3 IS NOT NULL AND payload LIKE $3 ESCAPE '\\'))";
        let id_pattern = like_pattern(&customer_id.to_string());
        let email_pattern = email.map(like_pattern);
        async {
            with_pool!(&self.db, |p| {
                let mut tx = p.begin().await?;
                let customers = sqlx::query::<DB>(CUSTOMER)
                    .bind(shop.as_str())
                    .bind(customer_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let orders = sqlx::query::<DB>(ORDERS)
                    .bind(shop.as_str())
                    .bind(customer_id)
                    .bind(email)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let mut orders = orders;
                for id in listed_orders {
                    orders += sqlx::query::<DB>(LISTED)
                        .bind(shop.as_str())
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                let deliveries = sqlx::query::<DB>(DELIVERIES)
                    .bind(shop.as_str())
                    .bind(&id_pattern)
                    .bind(email_pattern.as_deref())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Erased {
                    customers,
                    orders,
                    deliveries,
                    ..Erased::default()
                })
            })
        }
        .await
        .map_err(erase_err)
    }

    async fn redact_shop(&self, shop: &ShopId, now: EpochMs) -> StoreResult<Erased> {
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
        async {
            with_pool!(&self.db, |p| {
                let mut tx = p.begin().await?;
                let mut n = [0u64; 7];
                for (i, sql) in STATEMENTS.iter().enumerate() {
                    n[i] = sqlx::query::<DB>(sql)
                        .bind(shop.as_str())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                sqlx::query::<DB>(CREDENTIALS)
                    .bind(shop.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(Erased {
                    line_items: n[0],
                    orders: n[1],
                    variants: n[2],
                    products: n[3],
                    customers: n[4],
                    deliveries: n[5],
                })
            })
        }
        .await
        .map_err(erase_err)
    }
}
