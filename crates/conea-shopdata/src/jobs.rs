//! The job kinds `data.import` and `data.process`: [`JobKind`]s whose typed arguments
//! ([`ImportArgs`], [`ProcessArgs`]) are also what `DataService` enqueues; they call
//! [`run_import`] / [`run_report`], which tests call directly.

use super::import::{run_import, ImportArgs, ImportProgress};
use super::reports::{run_report, ProcessArgs};
use super::store::ShopDataStore;
use conea_core::reads::{self, shop_data_client, ReadRouter, ReadTarget};
use conea_core::store::StoreError;
use conea_jobs::{JobContext, JobError, JobKind};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub const IMPORT_KIND: &str = "data.import";
pub const PROCESS_KIND: &str = "data.process";

#[async_trait::async_trait]
impl ImportProgress for JobContext {
    async fn progress(&self, percent: u8, message: &str) {
        JobContext::progress(self, percent, message).await;
    }

    fn is_cancelled(&self) -> bool {
        JobContext::is_cancelled(self)
    }
}

/// `data.import`: args [`ImportArgs`] (`{upload_id, kind, shop_id, format}`); result
/// [`super::ImportReport`].
pub struct ImportHandler {
    store: Arc<dyn ShopDataStore>,
}

impl ImportHandler {
    pub fn new(store: Arc<dyn ShopDataStore>) -> Self {
        ImportHandler { store }
    }
}

#[async_trait::async_trait]
impl JobKind for ImportHandler {
    const KIND: &'static str = IMPORT_KIND;
    type Args = ImportArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(3600)
    }

    async fn run(&self, args: ImportArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let now = ctx.clock.now_ms();
        let report = run_import(self.store.clone(), &ctx.job.org_id, &args, now, ctx).await?;
        serde_json::to_value(report).map_err(|e| JobError::permanent(format!("result: {e}")))
    }
}

/// `data.process`: args [`ProcessArgs`] (`{operation, shop_id?, period?: {from, to},
/// params?}`); result the report.
pub struct ProcessHandler {
    store: Arc<dyn ShopDataStore>,
    reads: Option<Arc<ReadRouter>>,
}

impl ProcessHandler {
    pub fn new(store: Arc<dyn ShopDataStore>) -> Self {
        ProcessHandler { store, reads: None }
    }

    /// Lets reports read the replica when the organization's data there is current.
    pub fn with_reads(mut self, reads: Arc<ReadRouter>) -> Self {
        self.reads = Some(reads);
        self
    }
}

#[async_trait::async_trait]
impl JobKind for ProcessHandler {
    const KIND: &'static str = PROCESS_KIND;
    type Args = ProcessArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(300)
    }

    async fn run(&self, args: ProcessArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let req = args.check().map_err(|e| JobError::permanent(e.message))?;
        let target = match &self.reads {
            Some(r) => {
                r.route(Some(&shop_data_client(&ctx.job.org_id)))
                    .await
                    .target
            }
            None => ReadTarget::Primary,
        };
        reads::scope(
            target,
            run_report(self.store.as_ref(), &ctx.job.org_id, &req),
        )
        .await
        .map_err(|e: StoreError| JobError::retryable(format!("storage failed: {e}")))
    }
}
