//! Marking shop-data writes for read routing: the job kinds that write an organization's
//! shop data are wrapped so that its reports read the primary until the replica caught up.

use crate::analytics::overview::OverviewCache;
use async_trait::async_trait;
use conea_core::reads::{shop_data_client, ReadRouter};
use std::sync::Arc;
use std::time::Duration;

/// Wraps a job kind that writes an organization's shop data (imports, Shopify syncs and
/// webhooks): after each run, also a failed one (rows committed before the failure count),
/// the organization's shop data is marked written, so its reports read the primary until
/// the replica has caught up.
/// The organization's warm Overviews are dropped as well.
pub struct WritesShopData {
    inner: Arc<dyn conea_jobs::JobHandler>,
    reads: Arc<ReadRouter>,
    overviews: Arc<OverviewCache>,
}

impl WritesShopData {
    pub fn wrap(
        inner: Arc<dyn conea_jobs::JobHandler>,
        reads: Arc<ReadRouter>,
        overviews: Arc<OverviewCache>,
    ) -> Arc<dyn conea_jobs::JobHandler> {
        Arc::new(WritesShopData {
            inner,
            reads,
            overviews,
        })
    }
}

#[async_trait]
impl conea_jobs::JobHandler for WritesShopData {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn timeout(&self) -> Duration {
        self.inner.timeout()
    }

    fn max_attempts(&self) -> u32 {
        self.inner.max_attempts()
    }

    fn check_args(&self, args: &serde_json::Value) -> Result<(), String> {
        self.inner.check_args(args)
    }

    async fn run(
        &self,
        ctx: &conea_jobs::JobContext,
    ) -> Result<serde_json::Value, conea_jobs::JobError> {
        let result = self.inner.run(ctx).await;
        self.overviews.invalidate(&ctx.job.org_id);
        self.reads
            .note_write(&shop_data_client(&ctx.job.org_id))
            .await;
        result
    }
}
