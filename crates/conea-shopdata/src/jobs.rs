//! The job kinds `data.import` and `data.process`: [`JobKind`]s whose typed arguments
//! ([`ImportArgs`], [`ProcessArgs`]) are also what `DataService` enqueues; they call
//! [`run_import`] / [`run_report`], which tests call directly.

use super::import::{run_import, ImportArgs, ImportProgress};
use super::progress::ProgressNote;
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
    async fn progress(&self, percent: u8, note: &ProgressNote) {
        JobContext::progress(self, percent, &note.to_string()).await;
    }

    fn is_cancelled(&self) -> bool {
        JobContext::is_cancelled(self)
    }
}

/// `data.import`: args [`ImportArgs`] (`{upload_id, kind, shop_id, format}`); result
/// [`super::ImportReport`].
///
/// One process runs at most [`ImportTurns`]' number of imports at once; the others wait
/// their turn in the order they started (a fair semaphore). Each import holds its parsed
/// batches and writes: several at once on SQLite, which has one writer, only multiply the
/// memory (ten 200,000-order imports sent as 64 MiB parts peaked at 158 MiB with every part
/// importing at once). The run limit, [`IMPORT_RUN_LIMIT`], starts when the turn does.
pub struct ImportHandler {
    store: Arc<dyn ShopDataStore>,
    turns: ImportTurns,
}

/// Longest one import may run once its turn came.
pub const IMPORT_RUN_LIMIT: Duration = Duration::from_secs(3600);
/// Longest an import waits for its turn before the attempt counts as timed out.
pub const IMPORT_WAIT_LIMIT: Duration = Duration::from_secs(23 * 3600);

/// The turns of the imports one process runs at once.
#[derive(Clone)]
pub struct ImportTurns(Arc<tokio::sync::Semaphore>);

impl ImportTurns {
    pub fn new(at_once: usize) -> Self {
        ImportTurns(Arc::new(tokio::sync::Semaphore::new(at_once.max(1))))
    }

    /// Imports that may start now.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }

    /// A turn now, if one is free.
    pub fn try_take(&self) -> Option<ImportTurn> {
        self.0.clone().try_acquire_owned().ok().map(ImportTurn)
    }

    /// Waits for a turn (fair: in the order the waits began); `None` only if the turns
    /// were closed, which nothing does.
    pub async fn take(&self) -> Option<ImportTurn> {
        self.0.clone().acquire_owned().await.ok().map(ImportTurn)
    }
}

/// One import's turn; the next waiting import starts when it is dropped.
pub struct ImportTurn(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

impl ImportHandler {
    /// One import at a time.
    pub fn new(store: Arc<dyn ShopDataStore>) -> Self {
        Self::with_turns(store, ImportTurns::new(1))
    }

    pub fn with_turns(store: Arc<dyn ShopDataStore>, turns: ImportTurns) -> Self {
        ImportHandler { store, turns }
    }
}

#[async_trait::async_trait]
impl JobKind for ImportHandler {
    const KIND: &'static str = IMPORT_KIND;
    type Args = ImportArgs;

    fn timeout(&self) -> Duration {
        IMPORT_WAIT_LIMIT + IMPORT_RUN_LIMIT
    }

    async fn run(&self, args: ImportArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let turn = match self.turns.try_take() {
            Some(turn) => turn,
            None => {
                ImportProgress::progress(ctx, 0, &ProgressNote::WaitingForTurn).await;
                tokio::select! {
                    waited = tokio::time::timeout(IMPORT_WAIT_LIMIT, self.turns.take()) => match waited {
                        Ok(Some(turn)) => turn,
                        Ok(None) => return Err(JobError::retryable("import turns closed")),
                        Err(_) => return Err(JobError::retryable(format!(
                            "waited {} s for the imports before it in this process",
                            IMPORT_WAIT_LIMIT.as_secs()
                        ))),
                    },
                    // The worker sees the cancellation once this returns.
                    _ = ctx.cancelled() => return Err(JobError::permanent("cancelled while waiting for its turn")),
                }
            }
        };
        let now = ctx.clock.now_ms();
        let import = run_import(self.store.clone(), &ctx.job.org_id, &args, now, ctx);
        let report = tokio::time::timeout(IMPORT_RUN_LIMIT, import)
            .await
            .map_err(|_| {
                JobError::retryable(format!("timed out after {} s", IMPORT_RUN_LIMIT.as_secs()))
            })??;
        drop(turn);
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
