//! The `shopify.reconcile` job: per resource, the ids Conea holds for the shop against the
//! ids Shopify lists (`fields=id`, 250 a page): what Shopify no longer has is deleted here
//! (a missed `*/delete` webhook), what Conea lacks is fetched (`GET {resource}/{id}.json`)
//! and upserted. Conea's ids are read first, so an object created while Shopify's are listed
//! (and written here by its webhook) is never taken for a deleted one. One live per shop
//! (its unique key); scheduled every `SHOPIFY_RECONCILE_INTERVAL` from the shop's first
//! sync. The counts go on the shop (`reconciliation`) and in the job's result.

use super::access::ShopAccess;
use super::store::{Reconciled, RECONCILE_KIND};
use super::sync::write_objects;
use super::ReconcileArgs;
use crate::resources::Resource;
use conea_jobs::{JobContext, JobError, JobKind};
use conea_shopdata::{ProgressNote, RecordKind, ShopDataStore};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

const RESOURCES: [(Resource, RecordKind); 3] = [
    (Resource::Products, RecordKind::Products),
    (Resource::Customers, RecordKind::Customers),
    (Resource::Orders, RecordKind::Orders),
];

pub struct ReconcileHandler {
    access: ShopAccess,
    data: Arc<dyn ShopDataStore>,
}

impl ReconcileHandler {
    pub fn new(access: ShopAccess, data: Arc<dyn ShopDataStore>) -> Self {
        ReconcileHandler { access, data }
    }
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(e.to_string())
}

#[async_trait::async_trait]
impl JobKind for ReconcileHandler {
    const KIND: &'static str = RECONCILE_KIND;
    type Args = ReconcileArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(6 * 3600)
    }

    async fn run(&self, args: ReconcileArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let (shop, client) = self.access.open(&args.shop_id).await?;
        let store = self.access.store();
        let mut total = Reconciled::default();
        let mut summary = serde_json::Map::new();
        for (step, (resource, kind)) in RESOURCES.into_iter().enumerate() {
            // Ours first (see the module's note), then Shopify's.
            let ours: HashSet<i64> = store
                .source_ids(&shop.shop_id, kind)
                .await
                .map_err(retry)?
                .into_iter()
                .collect();
            let mut theirs: HashSet<i64> = HashSet::new();
            let mut cursor: Option<String> = None;
            loop {
                if ctx.is_cancelled() {
                    return Err(JobError::permanent("cancelled"));
                }
                let (ids, next) = match client.list_ids(resource, cursor.as_deref()).await {
                    Ok(page) => page,
                    Err(e) => return Err(self.access.failed(&shop, e, ctx.clock.now_ms()).await),
                };
                theirs.extend(ids);
                cursor = next;
                if cursor.is_none() {
                    break;
                }
            }
            let mut removed = 0i64;
            for id in ours.difference(&theirs) {
                store
                    .delete_object(&shop.shop_id, kind, *id)
                    .await
                    .map_err(retry)?;
                removed += 1;
            }
            let mut fetched = 0i64;
            let mut missing: Vec<i64> = theirs.difference(&ours).copied().collect();
            missing.sort_unstable();
            for id in missing {
                if ctx.is_cancelled() {
                    return Err(JobError::permanent("cancelled"));
                }
                let object = match client.get_one(resource, id).await {
                    Ok(Some(object)) => object,
                    // Deleted since it was listed.
                    Ok(None) => continue,
                    Err(e) => return Err(self.access.failed(&shop, e, ctx.clock.now_ms()).await),
                };
                let now = ctx.clock.now_ms();
                let (_, bad) =
                    write_objects(self.data.as_ref(), &shop, kind, &[object], now).await?;
                if bad == 0 {
                    fetched += 1;
                }
            }
            let checked = i64::try_from(theirs.len()).unwrap_or(i64::MAX);
            total.checked += checked;
            total.removed += removed;
            total.fetched += fetched;
            summary.insert(
                kind.as_str().to_owned(),
                json!({"checked": checked, "removed": removed, "fetched": fetched}),
            );
            let percent = ((step as u64 + 1) * 100 / 3) as u8;
            ctx.progress(
                percent,
                &ProgressNote::Reconciled {
                    kind,
                    checked,
                    removed,
                    fetched,
                }
                .to_string(),
            )
            .await;
            tracing::info!(shop = %shop.domain, kind = kind.as_str(), checked, removed, fetched, "reconciled");
        }
        let now = ctx.clock.now_ms();
        total.at = now;
        let next = self
            .access
            .options()
            .reconcile_interval
            .map(|i| now + super::service::duration_ms(i));
        store
            .record_reconciliation(&shop.shop_id, &total, next)
            .await
            .map_err(retry)?;
        summary.insert(
            "total".into(),
            json!({"checked": total.checked, "removed": total.removed, "fetched": total.fetched}),
        );
        Ok(Value::Object(summary))
    }
}
