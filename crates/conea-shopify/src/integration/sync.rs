//! The `shopify.sync` job: products (with variants), customers and orders (with line items)
//! a page at a time through the throttled client, each page upserted and its cursor saved
//! before the next, so a run that dies resumes from the page it was on. A finished pass
//! leaves a watermark: the next run asks only for objects updated since (`updated_at_min`).
//! 401/403 from Shopify marks the shop `unauthorized` and discards the job.

use super::SyncArgs;
use crate::client::ShopifyClient;
use crate::error::{ErrorKind, ShopifyApiError};
use crate::resources::Resource;
use crate::sleep::Sleeper;
use crate::throttle::Throttles;
use conea_core::jobs::{JobContext, JobError, JobHandler};
use conea_core::secretbox::SecretBox;
use conea_core::shopdata::{
    parse_ndjson_line, Customer, Order, Product, Record, RecordKind, ShopDataStore, UpsertCounts,
};
use conea_core::shopify::{secret_context, ShopifyShop, ShopifyStatus, ShopifyStore, SYNC_KIND};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The watermark is the pass's start minus this, so objects changed while a pass ran (and
/// clock skew between Shopify and us) are read again next time; upserts are idempotent.
pub const WATERMARK_OVERLAP_MS: i64 = 5 * 60 * 1000;

/// How a sync reaches Shopify (the same for every shop of a process).
#[derive(Clone)]
pub struct SyncOptions {
    pub throttles: Throttles,
    pub sleeper: Arc<dyn Sleeper>,
    pub http: reqwest::Client,
    /// Send to this base URL instead of `https://{shop}` (tests, proxies).
    pub base_url: Option<String>,
    pub page_size: u32,
}

pub struct SyncHandler {
    store: Arc<dyn ShopifyStore>,
    data: Arc<dyn ShopDataStore>,
    secrets: SecretBox,
    options: SyncOptions,
}

const RESOURCES: [(Resource, RecordKind); 3] = [
    (Resource::Products, RecordKind::Products),
    (Resource::Customers, RecordKind::Customers),
    (Resource::Orders, RecordKind::Orders),
];

impl SyncHandler {
    pub fn new(
        store: Arc<dyn ShopifyStore>,
        data: Arc<dyn ShopDataStore>,
        secrets: SecretBox,
        options: SyncOptions,
    ) -> Self {
        SyncHandler {
            store,
            data,
            secrets,
            options,
        }
    }

    fn client(&self, shop: &ShopifyShop, token: &str) -> Result<ShopifyClient, JobError> {
        let mut b = ShopifyClient::builder(
            shop.domain.clone(),
            token,
            shop.api_version.clone(),
            self.options.throttles.clone(),
        )
        .http_client(self.options.http.clone())
        .sleeper(self.options.sleeper.clone())
        .page_size(self.options.page_size);
        if let Some(base) = &self.options.base_url {
            b = b.base_url(base.clone());
        }
        b.build().map_err(|e| JobError::permanent(e.to_string()))
    }

    async fn failed(&self, shop: &ShopifyShop, e: ShopifyApiError, now: i64) -> JobError {
        if e.kind == ErrorKind::Unauthorized {
            let message = e.to_string();
            if let Err(se) = self
                .store
                .set_status(
                    &shop.shop_id,
                    ShopifyStatus::Unauthorized,
                    Some(&message),
                    now,
                )
                .await
            {
                tracing::warn!(error = %se, "could not mark the shop unauthorized");
            }
            return JobError::permanent(format!(
                "Shopify refused the access token of {}: {message}. The shop is now `unauthorized`; connect it again with a valid token.",
                shop.domain
            ));
        }
        JobError::retryable(e.to_string())
    }

    /// Writes one page; returns how many objects it held and how many did not parse.
    async fn write_page(
        &self,
        shop: &ShopifyShop,
        kind: RecordKind,
        items: &[Value],
        now: i64,
    ) -> Result<(UpsertCounts, u64), JobError> {
        let (mut orders, mut products, mut customers) = (
            Vec::<Order>::new(),
            Vec::<Product>::new(),
            Vec::<Customer>::new(),
        );
        let mut bad = 0u64;
        for item in items {
            match parse_ndjson_line(kind, &item.to_string()) {
                Ok(Record::Order(o)) => orders.push(o),
                Ok(Record::Product(p)) => products.push(p),
                Ok(Record::Customer(c)) => customers.push(c),
                Err(e) => {
                    bad += 1;
                    tracing::warn!(shop = %shop.domain, kind = kind.as_str(), error = %e, "skipped an object that does not parse");
                }
            }
        }
        let (org, id) = (&shop.org_id, &shop.shop_id);
        let counts = match kind {
            RecordKind::Orders => self.data.upsert_orders(org, id, &orders, now).await,
            RecordKind::Products => self.data.upsert_products(org, id, &products, now).await,
            RecordKind::Customers => self.data.upsert_customers(org, id, &customers, now).await,
        }
        .map_err(|e| JobError::retryable(e.to_string()))?;
        Ok((counts, bad))
    }
}

#[async_trait::async_trait]
impl JobHandler for SyncHandler {
    fn kind(&self) -> &'static str {
        SYNC_KIND
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(6 * 3600)
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let args: SyncArgs = serde_json::from_value(ctx.job.args.clone())
            .map_err(|e| JobError::permanent(format!("bad arguments: {e}")))?;
        let store_err = |e: conea_core::store::StoreError| JobError::retryable(e.to_string());
        let Some((shop, sealed)) = self
            .store
            .credentials(&args.shop_id)
            .await
            .map_err(store_err)?
        else {
            return Err(JobError::permanent(format!(
                "shop {} is not connected (disconnected or deleted)",
                args.shop_id
            )));
        };
        if shop.status != ShopifyStatus::Active {
            return Err(JobError::permanent(format!(
                "{} is {}: connect it again before syncing",
                shop.domain,
                shop.status.as_str()
            )));
        }
        let token = self
            .secrets
            .decrypt(
                &secret_context("access_token", &shop.org_id, &shop.domain),
                &sealed.access_token,
            )
            .map_err(|e| JobError::permanent(e.to_string()))?;
        let client = self.client(&shop, &token)?;
        let mut summary = serde_json::Map::new();
        for (step, (resource, kind)) in RESOURCES.into_iter().enumerate() {
            let mut state = self
                .store
                .sync_state(&shop.shop_id, kind)
                .await
                .map_err(store_err)?;
            let resumed = state.pass_started_at.is_some();
            if !resumed {
                state.pass_started_at = Some(ctx.clock.now_ms());
                state.pass_min = state.updated_at_min;
                state.cursor = None;
                state.pass_synced = 0;
            }
            let mut totals = UpsertCounts::default();
            let mut bad = 0u64;
            let mut pages = 0u64;
            loop {
                if ctx.is_cancelled() {
                    return Err(JobError::permanent("cancelled"));
                }
                let page = match client
                    .list(resource, state.pass_min, state.cursor.as_deref())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => return Err(self.failed(&shop, e, ctx.clock.now_ms()).await),
                };
                let now = ctx.clock.now_ms();
                let (counts, skipped) = self.write_page(&shop, kind, &page.items, now).await?;
                totals.add(counts);
                bad += skipped;
                pages += 1;
                state.pass_synced += page.items.len() as i64;
                state.cursor = page.next_page_info;
                let done = state.cursor.is_none();
                if done {
                    state.updated_at_min = state.pass_started_at.map(|t| t - WATERMARK_OVERLAP_MS);
                }
                let synced = state.pass_synced;
                if done {
                    state.pass_started_at = None;
                    state.pass_min = None;
                    state.pass_synced = 0;
                }
                self.store
                    .save_sync_state(&shop.shop_id, kind, &state, now)
                    .await
                    .map_err(store_err)?;
                let percent = ((step as u64 * 100 + if done { 100 } else { 50 }) / 3) as u8;
                ctx.progress(percent, &format!("{}: {synced} synced", kind.as_str()))
                    .await;
                if done {
                    summary.insert(
                        kind.as_str().to_owned(),
                        json!({
                            "synced": synced,
                            "pages": pages,
                            "inserted": totals.inserted,
                            "updated": totals.updated,
                            "skipped": totals.skipped,
                            "unparsable": bad,
                            "resumed": resumed,
                            "updated_at_min": state.updated_at_min,
                        }),
                    );
                    break;
                }
            }
        }
        let now = ctx.clock.now_ms();
        self.store
            .set_last_sync(&shop.shop_id, now)
            .await
            .map_err(store_err)?;
        Ok(Value::Object(summary))
    }
}
