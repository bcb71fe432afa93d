//! The `shopify.sync` job: products (with variants), customers and orders (with line items)
//! a page at a time through the throttled client, each page upserted and its cursor saved
//! before the next, so a run that dies resumes from the page it was on. A finished pass
//! leaves a watermark: the next run asks only for objects updated since (`updated_at_min`).
//! Each run first repairs Conea's webhook subscriptions at the shop (when
//! `CONEA_PUBLIC_URL` is set). 401/403 from Shopify marks the shop `unauthorized` and
//! discards the job.

use super::access::ShopAccess;
use super::bulk_sync;
use super::registration;
use super::SyncArgs;
use crate::error::ErrorKind;
use crate::integration::store::{ShopifyShop, SyncState, SYNC_KIND};
use crate::resources::Resource;
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::{
    parse_ndjson_line, Customer, Order, Product, ProgressNote, Record, RecordKind, ShopDataStore,
    UpsertCounts,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The watermark is the pass's start minus this, so objects changed while a pass ran (and
/// clock skew between Shopify and us) are read again next time; upserts are idempotent.
pub const WATERMARK_OVERLAP_MS: i64 = 5 * 60 * 1000;

pub struct SyncHandler {
    access: ShopAccess,
    data: Arc<dyn ShopDataStore>,
}

const RESOURCES: [(Resource, RecordKind); 3] = [
    (Resource::Products, RecordKind::Products),
    (Resource::Customers, RecordKind::Customers),
    (Resource::Orders, RecordKind::Orders),
];

impl SyncHandler {
    pub fn new(access: ShopAccess, data: Arc<dyn ShopDataStore>) -> Self {
        SyncHandler { access, data }
    }
}

/// Upserts objects of one kind as Shopify sent them; returns the counts and how many did
/// not parse (skipped with a warning).
pub(super) async fn write_objects(
    data: &dyn ShopDataStore,
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
        RecordKind::Orders => data.upsert_orders(org, id, &orders, now).await,
        RecordKind::Products => data.upsert_products(org, id, &products, now).await,
        RecordKind::Customers => data.upsert_customers(org, id, &customers, now).await,
    }
    .map_err(|e| JobError::retryable(e.to_string()))?;
    Ok((counts, bad))
}

impl SyncHandler {
    /// Whether this pass reads a bulk operation's file rather than pages: one already
    /// started continues; a pass of pages in progress continues as pages; otherwise a first
    /// sync, or one whose count is above `SHOPIFY_BULK_THRESHOLD`, goes in bulk.
    async fn use_bulk(
        &self,
        client: &crate::ShopifyClient,
        shop: &ShopifyShop,
        resource: Resource,
        state: &SyncState,
        ctx: &JobContext,
    ) -> Result<bool, JobError> {
        if state.bulk_operation.is_some() {
            return Ok(true);
        }
        let Some(threshold) = self.access.options().bulk_threshold else {
            return Ok(false);
        };
        if state.cursor.is_some() {
            return Ok(false);
        }
        if state.pass_min.is_none() {
            return Ok(true);
        }
        match client.count(resource, state.pass_min).await {
            Ok(n) => Ok(n > threshold),
            Err(e) => Err(self.access.failed(shop, e, ctx.clock.now_ms()).await),
        }
    }
}

#[async_trait::async_trait]
impl JobKind for SyncHandler {
    const KIND: &'static str = SYNC_KIND;
    type Args = SyncArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(6 * 3600)
    }

    async fn run(&self, args: SyncArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let store_err = |e: conea_core::store::StoreError| JobError::retryable(e.to_string());
        let (shop, client) = self.access.open(&args.shop_id).await?;
        let store = self.access.store();
        let mut summary = serde_json::Map::new();
        // Conea's webhook subscriptions first: missing ones are created again (others'
        // are left alone). A refused token ends the sync as any Admin API call does.
        if let Some(address) = self.access.options().webhook_address.clone() {
            match registration::repair(&client, &address).await {
                Ok(r) => {
                    summary.insert(
                        "webhooks".into(),
                        json!({"created": r.created, "missing": r.missing}),
                    );
                }
                Err(e) if e.kind == ErrorKind::Unauthorized => {
                    return Err(self.access.failed(&shop, e, ctx.clock.now_ms()).await)
                }
                Err(e) => {
                    tracing::warn!(shop = %shop.domain, error = %e, "could not repair the shop's webhook subscriptions");
                }
            }
        }
        for (step, (resource, kind)) in RESOURCES.into_iter().enumerate() {
            let mut state = store
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
            if self.use_bulk(&client, &shop, resource, &state, ctx).await? {
                let pass = bulk_sync::run(
                    &self.access,
                    self.data.as_ref(),
                    &client,
                    &shop,
                    kind,
                    &mut state,
                    ctx,
                )
                .await?;
                state.updated_at_min = state.pass_started_at.map(|t| t - WATERMARK_OVERLAP_MS);
                state.pass_started_at = None;
                state.pass_min = None;
                state.pass_synced = 0;
                let now = ctx.clock.now_ms();
                store
                    .save_sync_state(&shop.shop_id, kind, &state, now)
                    .await
                    .map_err(store_err)?;
                let percent = ((step as u64 + 1) * 100 / 3) as u8;
                ctx.progress(
                    percent,
                    &ProgressNote::SyncedInBulk {
                        kind,
                        records: pass.records,
                    }
                    .to_string(),
                )
                .await;
                summary.insert(
                    kind.as_str().to_owned(),
                    json!({
                        "synced": pass.records,
                        "bulk_operation": pass.operation,
                        "lines": pass.lines,
                        "inserted": pass.counts.inserted,
                        "updated": pass.counts.updated,
                        "skipped": pass.counts.skipped,
                        "unparsable": pass.rejected,
                        "resumed": resumed,
                        "resumed_after_lines": pass.resumed_after_lines,
                        "updated_at_min": state.updated_at_min,
                    }),
                );
                continue;
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
                    Err(e) => return Err(self.access.failed(&shop, e, ctx.clock.now_ms()).await),
                };
                let now = ctx.clock.now_ms();
                let (counts, skipped) =
                    write_objects(self.data.as_ref(), &shop, kind, &page.items, now).await?;
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
                store
                    .save_sync_state(&shop.shop_id, kind, &state, now)
                    .await
                    .map_err(store_err)?;
                let percent = ((step as u64 * 100 + if done { 100 } else { 50 }) / 3) as u8;
                let note = ProgressNote::Synced {
                    kind,
                    records: synced,
                };
                ctx.progress(percent, &note.to_string()).await;
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
        // The shop's own interval, else the server's.
        let next = shop
            .sync_interval_ms
            .or_else(|| {
                self.access
                    .options()
                    .sync_interval
                    .map(super::service::duration_ms)
            })
            .map(|i| now + i);
        store
            .set_last_sync(&shop.shop_id, now, next)
            .await
            .map_err(store_err)?;
        Ok(Value::Object(summary))
    }
}
