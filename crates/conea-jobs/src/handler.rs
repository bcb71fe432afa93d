//! What a job kind does: the handler trait, the context a run gets, and the registry.

use super::kind::JobKind;
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

/// `noop`: completes without doing anything, after `args.sleep_ms` (at most 60 s) when
/// given. A diagnostic kind: the benchmark and the crash tests use it (its completion ledger
/// row is the visible record of its one completion).
pub struct Noop;

/// The noop kind's arguments. Read leniently as it always was: any JSON is accepted, and a
/// `sleep_ms` that is missing or not a whole number means no sleep.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NoopArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sleep_ms: Option<u64>,
}

impl<'de> serde::Deserialize<'de> for NoopArgs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(NoopArgs {
            sleep_ms: value.get("sleep_ms").and_then(Value::as_u64),
        })
    }
}

#[async_trait::async_trait]
impl JobKind for Noop {
    const KIND: &'static str = "noop";
    type Args = NoopArgs;

    #[allow(clippy::disallowed_methods)] // `sleep_ms`: the noop kind stands in for work (load tests)
    async fn run(&self, args: NoopArgs, _ctx: &JobContext) -> Result<Value, JobError> {
        if let Some(ms) = args.sleep_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
        }
        Ok(Value::Null)
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
