//! Job records and the job store trait.

use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId};
use conea_core::store::StoreResult;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Available,
    Scheduled,
    Running,
    Retryable,
    Completed,
    Discarded,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Discarded | JobState::Cancelled
        )
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttemptError {
    pub attempt: u32,
    pub at: EpochMs,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub org_id: OrgId,
    pub args: Value,
    pub state: JobState,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub scheduled_at: EpochMs,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<EpochMs>,
    pub progress: u8,
    pub progress_message: Option<String>,
    pub result: Option<Value>,
    pub errors: Vec<AttemptError>,
    pub unique_key: Option<String>,
    pub cancel_requested: bool,
    pub created_at: EpochMs,
    pub started_at: Option<EpochMs>,
    pub finished_at: Option<EpochMs>,
    /// Claimed ahead of a free slot and not started yet: `running` under the worker's lease,
    /// its attempt not counted until it starts.
    pub claimed_ahead: bool,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub org_id: OrgId,
    pub args: Value,
    /// Lower runs first (default 0).
    pub priority: i32,
    pub max_attempts: u32,
    /// When it may run; `None` is now.
    pub scheduled_at: Option<EpochMs>,
    /// At most one non-final job per unique key.
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: &str, org_id: OrgId, args: Value) -> Self {
        NewJob {
            kind: kind.to_owned(),
            org_id,
            args,
            priority: 0,
            max_attempts: 5,
            scheduled_at: None,
            unique_key: None,
        }
    }
}

/// The job and whether this call created it (false: an equal unique job existed).
#[derive(Debug, Clone)]
pub struct Enqueued {
    pub job: Job,
    pub created: bool,
}

/// A finished attempt, as the worker reports it.
#[derive(Debug, Clone)]
pub enum Outcome {
    Completed {
        result: Value,
    },
    /// Failed; retry at the given time, or discard when `None`.
    Failed {
        error: String,
        retry_at: Option<EpochMs>,
    },
    Cancelled,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    /// Jobs with ids after this one (the cursor).
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// (kind, state, count)
    pub counts: Vec<(String, JobState, i64)>,
    /// Age of the oldest job that could run now, in ms.
    pub oldest_available_age_ms: Option<i64>,
    pub discarded_last_hour: i64,
}

/// What a heartbeat found: the jobs whose lease it extended, and those of them whose
/// cancellation was requested.
#[derive(Debug, Clone, Default)]
pub struct Leases {
    pub kept: Vec<JobId>,
    pub cancel_requested: Vec<JobId>,
}

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Inserts the job (or returns the live job with the same unique key) and wakes workers.
    async fn enqueue(&self, job: &NewJob, now: EpochMs) -> StoreResult<Enqueued>;
    /// Inserts many jobs in one transaction (no unique keys).
    async fn enqueue_many(&self, jobs: &[NewJob], now: EpochMs) -> StoreResult<u64>;
    /// Takes up to `limit` runnable jobs, most urgent first, leasing them to `worker`; the
    /// first `start` of them start now (their attempt is counted), the rest are claimed ahead
    /// (`claimed_ahead`, attempt not counted until [`mark_started`](Self::mark_started) or
    /// their completion).
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        start: u32,
        now: EpochMs,
        lease: Duration,
    ) -> StoreResult<Vec<Job>>;
    /// Counts the attempt of jobs claimed ahead that `worker` has now started.
    async fn mark_started(&self, worker: &str, ids: &[JobId], now: EpochMs) -> StoreResult<u64>;
    /// Extends the leases of `ids` held by `worker`; returns which it extended and which of
    /// them were asked to cancel.
    async fn heartbeat(
        &self,
        worker: &str,
        ids: &[JobId],
        lease_until: EpochMs,
    ) -> StoreResult<Leases>;
    /// Records finished attempts. Only jobs still leased to `worker` change (fencing);
    /// returns how many did.
    async fn finish(&self, worker: &str, done: &[(Job, Outcome)], now: EpochMs)
        -> StoreResult<u64>;
    /// Gives running (or claimed-ahead) jobs of `worker` back to the queue at once (shutdown),
    /// without counting the attempt.
    async fn release(&self, worker: &str, ids: &[JobId], now: EpochMs) -> StoreResult<u64>;
    /// Jobs whose lease expired: retryable with an error entry, or discarded when out of
    /// attempts; a job claimed ahead and never started goes back to `available` without
    /// either. Returns how many were rescued.
    async fn rescue_expired(
        &self,
        now: EpochMs,
        retry_at: &(dyn Fn(u32) -> EpochMs + Send + Sync),
    ) -> StoreResult<u64>;
    async fn set_progress(
        &self,
        worker: &str,
        id: &JobId,
        progress: u8,
        message: Option<&str>,
    ) -> StoreResult<()>;
    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>>;
    async fn list(&self, org: &OrgId, filter: &JobFilter) -> StoreResult<Vec<Job>>;
    /// Cancels a waiting job, or flags a running one for cooperative cancellation.
    async fn cancel(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>>;
    /// Makes a discarded or cancelled job available again with fresh attempts.
    async fn retry(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>>;
    /// Deletes final jobs finished before `before`.
    async fn prune(&self, before: EpochMs) -> StoreResult<u64>;
    async fn stats(&self, now: EpochMs) -> StoreResult<QueueStats>;
    /// Waits until a job may have been enqueued (LISTEN/NOTIFY, or an in-process signal), or
    /// the timeout passes.
    async fn wait_for_jobs(&self, timeout: Duration);
}
