//! What a job kind does: the handler trait, the context a run gets, and the registry.

use super::model::{Job, JobStore};
use conea_core::clock::Clock;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why a run failed, and whether another attempt may help.
#[derive(Debug, Clone)]
pub struct JobError {
    pub message: String,
    pub retryable: bool,
}

impl JobError {
    pub fn retryable(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure no retry can fix (bad arguments): the job is discarded at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// What a running job can see and do.
pub struct JobContext {
    pub job: Job,
    pub clock: Arc<dyn Clock>,
    store: Arc<dyn JobStore>,
    worker: String,
    cancel: watch::Receiver<bool>,
}

impl JobContext {
    pub fn new(
        job: Job,
        clock: Arc<dyn Clock>,
        store: Arc<dyn JobStore>,
        worker: String,
        cancel: watch::Receiver<bool>,
    ) -> Self {
        JobContext {
            job,
            clock,
            store,
            worker,
            cancel,
        }
    }

    /// Reports progress (0-100) with a short message; failures to report are only logged.
    pub async fn progress(&self, percent: u8, message: &str) {
        if let Err(e) = self
            .store
            .set_progress(&self.worker, &self.job.id, percent.min(100), Some(message))
            .await
        {
            tracing::warn!(job_id = %self.job.id, error = %e, "could not record progress");
        }
    }

    /// True once cancellation was requested; long handlers check it between steps.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Resolves once cancellation is requested (never, if the worker stops first): a handler
    /// that waits for something races its wait against this.
    pub async fn cancelled(&self) {
        let mut cancel = self.cancel.clone();
        if cancel.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The stable kind name, e.g. `data.import`.
    fn kind(&self) -> &'static str;

    /// Longest a run may take before it counts as a failed attempt.
    fn timeout(&self) -> Duration {
        Duration::from_secs(600)
    }

    fn max_attempts(&self) -> u32 {
        5
    }

    /// Whether `args` are arguments this kind can run (a typed kind parses them); producers
    /// that take arguments from outside (the CLI's `jobs enqueue`) check before enqueueing.
    fn check_args(&self, _args: &Value) -> Result<(), String> {
        Ok(())
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError>;
}

/// The job kinds a worker can run.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(handler.kind(), handler);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&Arc<dyn JobHandler>> {
        self.handlers.get(kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort_unstable();
        k
    }
}

/// A feature crate's job kinds: each feature (shop data, Shopify, incidents) exposes one
/// value that knows its handlers, and the platform registers every feature's in one list.
pub trait JobKinds {
    fn job_kinds(&self) -> Vec<Arc<dyn JobHandler>>;
}

impl Registry {
    /// Registers every job kind of `feature`.
    pub fn install(&mut self, feature: &dyn JobKinds) -> &mut Self {
        for handler in feature.job_kinds() {
            self.register(handler);
        }
        self
    }
}
