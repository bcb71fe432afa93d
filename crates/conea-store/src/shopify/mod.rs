//! `ShopifyStore` on SQL: connections (sealed credentials, status, counters), webhook
//! deliveries stored in the same transaction as their job, sync cursors, and the deletions
//! and erasures of products, customers and shops.

mod erasure;
mod rows;

use crate::jobs::{bind_new_job, insert_job_sql};
use crate::query::{q, q_built};
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId, ShopId};
use conea_core::store::{StoreError, StoreResult};
use conea_jobs::NewJob;
use conea_shopdata::RecordKind;
use conea_shopify::integration::store::{
    CustomerData, Delivery, DeliveryStored, DeprecationNotice, Erased, InstallState, NewConnection,
    NewDelivery, Reconciled, SealedCredentials, ShopifyShop, ShopifyStatus, ShopifyStore,
    SyncState, TakenState,
};
use conea_shopify::DeliveryKey;
use rows::{CredentialRow, DeliveryRow, ShopifyRow, SyncRow};

/// A connection with its delivery counters, read from the deliveries table (`s` is
/// `shopify_shops`).
const SHOP_COLUMNS: &str = "s.shop_id, s.organization_id, s.domain, s.api_version, s.status, \
    s.status_message, s.last_sync_at, s.webhooks_rejected, s.created_at, \
    s.deprecation_reason, s.deprecation_endpoint, s.deprecation_api_version, s.deprecation_seen_at, \
    s.sync_interval_ms, s.reconciled_at, s.reconcile_checked, s.reconcile_removed, s.reconcile_fetched, \
    (SELECT COUNT(*) FROM shopify_webhook_deliveries d WHERE d.shop_id = s.shop_id) AS webhooks_received, \
    (SELECT MAX(d.received_at) FROM shopify_webhook_deliveries d WHERE d.shop_id = s.shop_id) AS last_webhook_at";

/// The same without the counters (the webhook path reads the connection on every delivery).
const SHOP_COLUMNS_NO_COUNTERS: &str =
    "s.shop_id, s.organization_id, s.domain, s.api_version, s.status, \
    s.status_message, s.last_sync_at, s.webhooks_rejected, s.created_at, \
    s.deprecation_reason, s.deprecation_endpoint, s.deprecation_api_version, s.deprecation_seen_at, \
    s.sync_interval_ms, s.reconciled_at, s.reconcile_checked, s.reconcile_removed, s.reconcile_fetched, \
    CAST(0 AS BIGINT) AS webhooks_received, CAST(NULL AS BIGINT) AS last_webhook_at";

const SHOP: &str = "shop";
const DELIVERY: &str = "webhook delivery";
const SYNC: &str = "sync state";
const INSTALL: &str = "Shopify install state";

#[async_trait]
impl ShopifyStore for SqlStore {
    async fn connect(&self, c: &NewConnection, now: EpochMs) -> StoreResult<ShopifyShop> {
        const SHOP_SQL: &str = "INSERT INTO shops (id, organization_id, domain, name, kind, currency, created_at) \
             VALUES ($1, $2, $3, $3, 'shopify', NULL, $4) ON CONFLICT (organization_id, domain) DO NOTHING";
        const FIND: &str =
            "SELECT id FROM shops WHERE organization_id = $1 AND domain = $2 AND kind = 'shopify'";
        const UPSERT: &str = "INSERT INTO shopify_shops (shop_id, organization_id, domain, access_token, api_secret, \
             previous_api_secret, api_version, status, status_message, created_at, updated_at, sync_interval_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', NULL, $8, $8, $9) \
             ON CONFLICT (shop_id) DO UPDATE SET access_token = excluded.access_token, \
             api_secret = excluded.api_secret, previous_api_secret = excluded.previous_api_secret, \
             api_version = excluded.api_version, status = 'active', status_message = NULL, \
             updated_at = excluded.updated_at, \
             sync_interval_ms = COALESCE(excluded.sync_interval_ms, shopify_shops.sync_interval_ms)";
        let creds = &c.credentials;
        let db = self.primary("Shopify connection for this shop domain");
        let shop_id: String = db
            .timed("shopify_connect", UPSERT, async {
                let mut tx = db.begin().await?;
                q("shopify_connect", SHOP_SQL)
                    .bind(c.new_shop_id.as_str())
                    .bind(c.org_id.as_str())
                    .bind(&c.domain)
                    .bind(now)
                    .execute_in(&mut tx)
                    .await?;
                let id: Option<(String,)> = q("shopify_connect", FIND)
                    .bind(c.org_id.as_str())
                    .bind(&c.domain)
                    .fetch_optional_in(&mut tx)
                    .await?;
                let Some((id,)) = id else {
                    // A manual shop cannot have a domain; nothing else can take it.
                    return Err(sqlx::Error::RowNotFound);
                };
                q("shopify_connect", UPSERT)
                    .bind(&id)
                    .bind(c.org_id.as_str())
                    .bind(&c.domain)
                    .bind(&creds.access_token)
                    .bind(&creds.api_secret)
                    .bind(creds.previous_api_secret.as_deref())
                    .bind(&c.api_version)
                    .bind(now)
                    .bind(c.sync_interval_ms)
                    .execute_in(&mut tx)
                    .await?;
                tx.commit().await?;
                Ok(id)
            })
            .await?;
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
        q_built(
            "list_shopify_shops",
            "SELECT … FROM shopify_shops WHERE organization_id = $1",
            sql,
        )
        .bind(org.as_str())
        .fetch_all::<ShopifyRow>(&self.primary(SHOP))
        .await?
        .into_iter()
        .map(ShopifyRow::into_model)
        .collect()
    }

    async fn get_shopify_shop(
        &self,
        org: &OrgId,
        shop: &ShopId,
    ) -> StoreResult<Option<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS} FROM shopify_shops s WHERE s.organization_id = $1 AND s.shop_id = $2"
        );
        q_built(
            "get_shopify_shop",
            "SELECT … FROM shopify_shops WHERE shop_id = $2",
            sql,
        )
        .bind(org.as_str())
        .bind(shop.as_str())
        .fetch_optional::<ShopifyRow>(&self.primary(SHOP))
        .await?
        .map(ShopifyRow::into_model)
        .transpose()
    }

    async fn shopify_shops_with_status(
        &self,
        status: ShopifyStatus,
    ) -> StoreResult<Vec<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS} FROM shopify_shops s WHERE s.status = $1 ORDER BY s.shop_id LIMIT 100"
        );
        q_built(
            "shopify_shops_with_status",
            "SELECT … FROM shopify_shops WHERE status = $1",
            sql,
        )
        .bind(status.as_str())
        .fetch_all::<ShopifyRow>(&self.primary(SHOP))
        .await?
        .into_iter()
        .map(ShopifyRow::into_model)
        .collect()
    }

    async fn credentials_by_domain(
        &self,
        domain: &str,
    ) -> StoreResult<Vec<(ShopifyShop, SealedCredentials)>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.access_token, s.api_secret, s.previous_api_secret \
             FROM shopify_shops s WHERE s.domain = $1 AND s.status <> 'disconnected' \
             ORDER BY s.created_at, s.shop_id"
        );
        let rows = q_built(
            "shopify_credentials_by_domain",
            "SELECT … FROM shopify_shops WHERE domain = $1",
            sql,
        )
        .bind(domain)
        .fetch_all::<CredentialRow>(&self.primary(SHOP))
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(c) = row.into_model()? {
                found.push(c);
            }
        }
        Ok(found)
    }

    async fn credentials(
        &self,
        shop: &ShopId,
    ) -> StoreResult<Option<(ShopifyShop, SealedCredentials)>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.access_token, s.api_secret, s.previous_api_secret \
             FROM shopify_shops s WHERE s.shop_id = $1"
        );
        let row = q_built(
            "shopify_credentials",
            "SELECT … FROM shopify_shops WHERE shop_id = $1",
            sql,
        )
        .bind(shop.as_str())
        .fetch_optional::<CredentialRow>(&self.primary(SHOP))
        .await?;
        Ok(row.map(CredentialRow::into_model).transpose()?.flatten())
    }

    async fn disconnect(&self, org: &OrgId, shop: &ShopId, now: EpochMs) -> StoreResult<bool> {
        const SQL: &str = "UPDATE shopify_shops SET status = 'disconnected', access_token = NULL, \
                 api_secret = NULL, previous_api_secret = NULL, status_message = NULL, updated_at = $3 \
                 WHERE organization_id = $1 AND shop_id = $2";
        let n = q("shopify_disconnect", SQL)
            .bind(org.as_str())
            .bind(shop.as_str())
            .bind(now)
            .execute(&self.primary(SHOP))
            .await?;
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
        q("shopify_set_status", SQL)
            .bind(shop.as_str())
            .bind(status.as_str())
            .bind(message)
            .bind(now)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn save_install_state(&self, state_hash: &str, state: &InstallState) -> StoreResult<()> {
        const PRUNE: &str = "DELETE FROM shopify_install_states WHERE expires_at < $1";
        const SQL: &str = "INSERT INTO shopify_install_states \
             (state_hash, organization_id, domain, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)";
        let db = self.primary(INSTALL);
        q("shopify_prune_install_states", PRUNE)
            .bind(state.created_at - 24 * 3600 * 1000)
            .execute(&db)
            .await?;
        q("shopify_save_install_state", SQL)
            .bind(state_hash)
            .bind(state.org_id.as_str())
            .bind(&state.domain)
            .bind(state.created_at)
            .bind(state.expires_at)
            .execute(&db)
            .await
            .map(drop)
    }

    async fn take_install_state(&self, state_hash: &str, now: EpochMs) -> StoreResult<TakenState> {
        const TAKE: &str = "UPDATE shopify_install_states SET used_at = $2 \
             WHERE state_hash = $1 AND used_at IS NULL \
             RETURNING organization_id, domain, created_at, expires_at";
        const FIND: &str = "SELECT organization_id, domain, created_at, expires_at \
             FROM shopify_install_states WHERE state_hash = $1";
        let db = self.primary(INSTALL);
        let state = |(org, domain, created_at, expires_at): (String, String, i64, i64)| {
            let org_id = OrgId::parse(&org).map_err(|_| {
                StoreError::Other("corrupt organization id in install state".into())
            })?;
            Ok::<_, StoreError>(InstallState {
                org_id,
                domain,
                created_at,
                expires_at,
            })
        };
        let taken: Option<(String, String, i64, i64)> = q("shopify_take_install_state", TAKE)
            .bind(state_hash)
            .bind(now)
            .fetch_optional(&db)
            .await?;
        if let Some(row) = taken {
            return Ok(TakenState::Taken(state(row)?));
        }
        let found: Option<(String, String, i64, i64)> = q("shopify_find_install_state", FIND)
            .bind(state_hash)
            .fetch_optional(&db)
            .await?;
        Ok(match found {
            Some(row) => TakenState::Used(state(row)?),
            None => TakenState::Unknown,
        })
    }

    async fn count_rejected_webhook(&self, shop: &ShopId, now: EpochMs) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_shops SET webhooks_rejected = webhooks_rejected + 1, \
                 updated_at = $2 WHERE shop_id = $1";
        q("shopify_count_rejected_webhook", SQL)
            .bind(shop.as_str())
            .bind(now)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn record_deprecation(&self, shop: &ShopId, n: &DeprecationNotice) -> StoreResult<()> {
        const SQL: &str =
            "UPDATE shopify_shops SET deprecation_reason = $2, deprecation_endpoint = $3, \
             deprecation_api_version = $4, deprecation_seen_at = $5 WHERE shop_id = $1";
        q("shopify_record_deprecation", SQL)
            .bind(shop.as_str())
            .bind(&n.reason)
            .bind(&n.endpoint)
            .bind(&n.api_version)
            .bind(n.seen_at)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn shopify_deprecations(&self) -> StoreResult<Vec<ShopifyShop>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS_NO_COUNTERS} FROM shopify_shops s WHERE s.status = 'active' \
             AND s.deprecation_seen_at IS NOT NULL AND s.deprecation_api_version = s.api_version \
             ORDER BY s.shop_id LIMIT 100"
        );
        q_built(
            "shopify_deprecations",
            "SELECT … FROM shopify_shops WHERE deprecation_api_version = api_version",
            sql,
        )
        .fetch_all::<ShopifyRow>(&self.primary(SHOP))
        .await?
        .into_iter()
        .map(ShopifyRow::into_model)
        .collect()
    }

    async fn set_last_sync(
        &self,
        shop: &ShopId,
        now: EpochMs,
        next_sync_at: Option<EpochMs>,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_shops SET last_sync_at = $2, next_sync_at = $3, \
             updated_at = $2 WHERE shop_id = $1";
        q("shopify_set_last_sync", SQL)
            .bind(shop.as_str())
            .bind(now)
            .bind(next_sync_at)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn source_ids(&self, shop: &ShopId, kind: RecordKind) -> StoreResult<Vec<i64>> {
        let sql = match kind {
            RecordKind::Products => "SELECT source_id FROM products WHERE shop_id = $1",
            RecordKind::Customers => "SELECT source_id FROM customers WHERE shop_id = $1",
            RecordKind::Orders => "SELECT source_id FROM orders WHERE shop_id = $1",
        };
        let rows: Vec<(i64,)> = q("shopify_source_ids", sql)
            .bind(shop.as_str())
            .fetch_all(&self.primary(SHOP))
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn record_reconciliation(
        &self,
        shop: &ShopId,
        done: &Reconciled,
        next: Option<EpochMs>,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_shops SET reconciled_at = $2, reconcile_checked = $3, \
             reconcile_removed = $4, reconcile_fetched = $5, next_reconcile_at = $6 WHERE shop_id = $1";
        q("shopify_record_reconciliation", SQL)
            .bind(shop.as_str())
            .bind(done.at)
            .bind(done.checked)
            .bind(done.removed)
            .bind(done.fetched)
            .bind(next)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn due_reconciles(
        &self,
        now: EpochMs,
        first_after: i64,
        limit: i64,
    ) -> StoreResult<Vec<(ShopifyShop, Option<EpochMs>)>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.next_reconcile_at FROM shopify_shops s \
             WHERE s.status = 'active' AND s.last_sync_at IS NOT NULL \
             AND COALESCE(s.next_reconcile_at, s.last_sync_at + $2) <= $1 \
             ORDER BY s.shop_id LIMIT $3"
        );
        q_built(
            "shopify_due_reconciles",
            "SELECT … FROM shopify_shops WHERE COALESCE(next_reconcile_at, …) <= $1",
            sql,
        )
        .bind(now)
        .bind(first_after)
        .bind(limit)
        .fetch_all::<rows::DueReconcileRow>(&self.primary(SHOP))
        .await?
        .into_iter()
        .map(|r| Ok((r.shop.into_model()?, r.next_reconcile_at)))
        .collect()
    }

    async fn claim_reconcile(
        &self,
        shop: &ShopId,
        read: Option<EpochMs>,
        next: EpochMs,
    ) -> StoreResult<bool> {
        let done = match read {
            Some(read) => {
                q(
                    "shopify_claim_reconcile",
                    "UPDATE shopify_shops SET next_reconcile_at = $3 \
                     WHERE shop_id = $1 AND next_reconcile_at = $2 AND status = 'active'",
                )
                .bind(shop.as_str())
                .bind(read)
                .bind(next)
                .execute(&self.primary(SHOP))
                .await?
            }
            None => {
                q(
                    "shopify_claim_reconcile",
                    "UPDATE shopify_shops SET next_reconcile_at = $2 \
                     WHERE shop_id = $1 AND next_reconcile_at IS NULL AND status = 'active'",
                )
                .bind(shop.as_str())
                .bind(next)
                .execute(&self.primary(SHOP))
                .await?
            }
        };
        Ok(done > 0)
    }

    async fn update_settings(
        &self,
        shop: &ShopId,
        api_version: &str,
        sync_interval_ms: Option<i64>,
        next_sync_at: Option<EpochMs>,
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_shops SET api_version = $2, sync_interval_ms = $3, \
             next_sync_at = $4, updated_at = $5 WHERE shop_id = $1";
        q("shopify_update_settings", SQL)
            .bind(shop.as_str())
            .bind(api_version)
            .bind(sync_interval_ms)
            .bind(next_sync_at)
            .bind(now)
            .execute(&self.primary(SHOP))
            .await
            .map(drop)
    }

    async fn due_syncs(
        &self,
        now: EpochMs,
        limit: i64,
    ) -> StoreResult<Vec<(ShopifyShop, EpochMs)>> {
        let sql = format!(
            "SELECT {SHOP_COLUMNS_NO_COUNTERS}, s.next_sync_at FROM shopify_shops s \
             WHERE s.status = 'active' AND s.next_sync_at <= $1 ORDER BY s.next_sync_at LIMIT $2"
        );
        q_built(
            "shopify_due_syncs",
            "SELECT … FROM shopify_shops WHERE status = 'active' AND next_sync_at <= $1",
            sql,
        )
        .bind(now)
        .bind(limit)
        .fetch_all::<rows::DueRow>(&self.primary(SHOP))
        .await?
        .into_iter()
        .map(|r| Ok((r.shop.into_model()?, r.next_sync_at)))
        .collect()
    }

    async fn claim_sync(&self, shop: &ShopId, read: EpochMs, next: EpochMs) -> StoreResult<bool> {
        const SQL: &str = "UPDATE shopify_shops SET next_sync_at = $3 \
             WHERE shop_id = $1 AND next_sync_at = $2 AND status = 'active'";
        let done = q("shopify_claim_sync", SQL)
            .bind(shop.as_str())
            .bind(read)
            .bind(next)
            .execute(&self.primary(SHOP))
            .await?;
        Ok(done > 0)
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
        let db = self.primary(DELIVERY);
        let (created, job_id) = db
            .timed("shopify_store_delivery", INSERT, async {
                let mut tx = db.begin().await?;
                let inserted: Option<(String,)> = q("shopify_store_delivery", INSERT)
                    .bind(d.shop_id.as_str())
                    .bind(d.dedup_key.as_str())
                    .bind(d.org_id.as_str())
                    .bind(&d.topic)
                    .bind(d.webhook_id.as_deref())
                    .bind(d.event_id.as_deref())
                    .bind(d.api_version.as_deref())
                    .bind(d.triggered_at)
                    .bind(&d.payload)
                    .bind(new_id.as_str())
                    .bind(now)
                    .fetch_optional_in(&mut tx)
                    .await?;
                let out = match inserted {
                    Some((id,)) => {
                        bind_new_job(
                            q_built("enqueue", "INSERT INTO jobs …", job_sql.as_str()),
                            &new_id,
                            job,
                            now,
                        )
                        .execute_in(&mut tx)
                        .await?;
                        if notify {
                            // Sent to listening workers at commit, without a round trip of
                            // its own.
                            q("notify_workers", "SELECT pg_notify($1, '')")
                                .bind(crate::jobs::CHANNEL)
                                .execute_in(&mut tx)
                                .await?;
                        }
                        (true, id)
                    }
                    None => {
                        let (id,): (String,) = q("shopify_store_delivery", EXISTING)
                            .bind(d.shop_id.as_str())
                            .bind(d.dedup_key.as_str())
                            .fetch_one_in(&mut tx)
                            .await?;
                        (false, id)
                    }
                };
                tx.commit().await?;
                Ok(out)
            })
            .await?;
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

    async fn delivery(
        &self,
        shop: &ShopId,
        dedup_key: &DeliveryKey,
    ) -> StoreResult<Option<Delivery>> {
        const SQL: &str = "SELECT shop_id, organization_id, dedup_key, topic, payload, job_id, received_at, \
                 processed_at FROM shopify_webhook_deliveries WHERE shop_id = $1 AND dedup_key = $2";
        let row = q("shopify_delivery", SQL)
            .bind(shop.as_str())
            .bind(dedup_key.as_str())
            .fetch_optional::<DeliveryRow>(&self.primary(DELIVERY))
            .await?;
        let Some(r) = row else { return Ok(None) };
        let bad = |w: &str| StoreError::Other(format!("corrupt {w} in a delivery"));
        Ok(Some(Delivery {
            shop_id: ShopId::parse(&r.shop_id).map_err(|_| bad("shop id"))?,
            org_id: OrgId::parse(&r.organization_id).map_err(|_| bad("organization id"))?,
            dedup_key: DeliveryKey::new(r.dedup_key).ok_or_else(|| bad("dedup key"))?,
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
        q("shopify_prune_deliveries", SQL)
            .bind(before)
            .execute(&self.primary(DELIVERY))
            .await
    }

    async fn mark_delivery_processed(
        &self,
        shop: &ShopId,
        dedup_key: &DeliveryKey,
        now: EpochMs,
    ) -> StoreResult<()> {
        const SQL: &str = "UPDATE shopify_webhook_deliveries SET processed_at = $3 \
                 WHERE shop_id = $1 AND dedup_key = $2";
        q("shopify_mark_delivery_processed", SQL)
            .bind(shop.as_str())
            .bind(dedup_key.as_str())
            .bind(now)
            .execute(&self.primary(DELIVERY))
            .await
            .map(drop)
    }

    async fn sync_state(&self, shop: &ShopId, resource: RecordKind) -> StoreResult<SyncState> {
        const SQL: &str = "SELECT cursor, pass_min, pass_started_at, pass_synced, updated_at_min, bulk_operation, bulk_lines \
                 FROM shopify_sync_state WHERE shop_id = $1 AND resource = $2";
        let row = q("shopify_sync_state", SQL)
            .bind(shop.as_str())
            .bind(resource.as_str())
            .fetch_optional::<SyncRow>(&self.primary(SYNC))
            .await?;
        Ok(row
            .map(|r| SyncState {
                cursor: r.cursor,
                pass_min: r.pass_min,
                pass_started_at: r.pass_started_at,
                pass_synced: r.pass_synced,
                updated_at_min: r.updated_at_min,
                bulk_operation: r.bulk_operation,
                bulk_lines: r.bulk_lines,
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
                 pass_synced, updated_at_min, updated_at, bulk_operation, bulk_lines) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (shop_id, resource) DO UPDATE SET cursor = excluded.cursor, pass_min = excluded.pass_min, \
                 pass_started_at = excluded.pass_started_at, pass_synced = excluded.pass_synced, \
                 updated_at_min = excluded.updated_at_min, updated_at = excluded.updated_at, \
                 bulk_operation = excluded.bulk_operation, bulk_lines = excluded.bulk_lines";
        q("shopify_save_sync_state", SQL)
            .bind(shop.as_str())
            .bind(resource.as_str())
            .bind(s.cursor.as_deref())
            .bind(s.pass_min)
            .bind(s.pass_started_at)
            .bind(s.pass_synced)
            .bind(s.updated_at_min)
            .bind(now)
            .bind(s.bulk_operation.as_deref())
            .bind(s.bulk_lines)
            .execute(&self.primary(SYNC))
            .await
            .map(drop)
    }

    async fn delete_object(
        &self,
        shop: &ShopId,
        kind: RecordKind,
        source_id: i64,
    ) -> StoreResult<Erased> {
        erasure::delete_object(self, shop, kind, source_id).await
    }

    async fn customer_data(
        &self,
        shop: &ShopId,
        customer_id: i64,
        email: Option<&str>,
    ) -> StoreResult<CustomerData> {
        erasure::customer_data(self, shop, customer_id, email).await
    }

    async fn redact_customer(
        &self,
        shop: &ShopId,
        customer_id: i64,
        email: Option<&str>,
        listed_orders: &[i64],
    ) -> StoreResult<Erased> {
        erasure::redact_customer(self, shop, customer_id, email, listed_orders).await
    }

    async fn redact_shop(&self, shop: &ShopId, now: EpochMs) -> StoreResult<Erased> {
        erasure::redact_shop(self, shop, now).await
    }
}
