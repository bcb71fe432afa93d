//! The jobs API of the domain: enqueue (with the kind's defaults), read, list, cancel and
//! retry, with permission checks and the 404-for-other-organizations rule.

use super::handler::Registry;
use super::model::{Enqueued, Job, JobFilter, JobState, JobStore, NewJob, QueueStats};
use conea_core::clock::Clock;
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::JobId;
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use std::sync::Arc;

pub struct JobService {
    store: Arc<dyn JobStore>,
    clock: Arc<dyn Clock>,
    registry: Arc<Registry>,
}

impl JobService {
    pub fn new(store: Arc<dyn JobStore>, clock: Arc<dyn Clock>, registry: Arc<Registry>) -> Self {
        JobService {
            store,
            clock,
            registry,
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Enqueues with the kind's max attempts; unique keys are scoped to the organization.
    pub async fn enqueue(&self, job: NewJob) -> CoreResult<Enqueued> {
        let job = self.prepare(job);
        Ok(self.store.enqueue(&job, self.clock.now_ms()).await?)
    }

    /// A job as [`enqueue`](Self::enqueue) would insert it (the kind's max attempts, the
    /// organization-scoped unique key), for stores that insert it in their own transaction.
    pub fn prepare(&self, mut job: NewJob) -> NewJob {
        if let Some(h) = self.registry.get(&job.kind) {
            job.max_attempts = h.max_attempts();
        }
        if let Some(k) = &job.unique_key {
            job.unique_key = Some(format!("{}:{k}", job.org_id));
        }
        job
    }

    async fn visible(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        let job_id = JobId::parse(id).map_err(|_| CoreError::not_found("job", id))?;
        match self.store.get(&job_id).await? {
            Some(j) if by.can_see_org(&j.org_id) => Ok(j),
            _ => Err(CoreError::not_found("job", id)),
        }
    }

    pub async fn get(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        by.require(Permission::JobsRead)?;
        self.visible(by, id).await
    }

    pub async fn list(
        &self,
        by: &Principal,
        state: Option<&str>,
        kind: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> CoreResult<Vec<Job>> {
        by.require(Permission::JobsRead)?;
        let state = match state {
            None => None,
            Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                CoreError::invalid("status", format!("`{s}` is not a job status: use available, scheduled, running, retryable, completed, discarded or cancelled."))
            })?),
        };
        // The cursor is the id of the last job of the previous page: anything else is a
        // 400, not an empty page.
        if let Some(c) = &after {
            JobId::parse(c).map_err(|_| {
                CoreError::invalid(
                    "cursor",
                    "`cursor` is not a `next_cursor` of this list (a job id).",
                )
            })?;
        }
        let filter = JobFilter {
            state,
            kind,
            after,
            limit,
        };
        Ok(self.store.list(&by.org_id, &filter).await?)
    }

    pub async fn cancel(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        by.require(Permission::JobsWrite)?;
        let job = self.visible(by, id).await?;
        if job.state.is_final() {
            return Err(CoreError::Conflict {
                code: ErrorCode::JobFinished,
                message: format!(
                    "Job {id} is already {} and cannot be cancelled.",
                    job.state.as_str()
                ),
            });
        }
        self.store
            .cancel(&job.id, self.clock.now_ms())
            .await?
            .ok_or_else(|| CoreError::not_found("job", id))
    }

    pub async fn retry(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        by.require(Permission::JobsWrite)?;
        let job = self.visible(by, id).await?;
        if !matches!(job.state, JobState::Discarded | JobState::Cancelled) {
            return Err(CoreError::Conflict {
                code: ErrorCode::JobNotRetryable,
                message: format!(
                    "Job {id} is {}; only discarded or cancelled jobs can be retried.",
                    job.state.as_str()
                ),
            });
        }
        self.store
            .retry(&job.id, self.clock.now_ms())
            .await?
            .ok_or_else(|| CoreError::not_found("job", id))
    }

    /// Operator access (CLI): any job by id.
    pub async fn get_any(&self, id: &str) -> CoreResult<Job> {
        let job_id = JobId::parse(id).map_err(|_| CoreError::not_found("job", id))?;
        self.store
            .get(&job_id)
            .await?
            .ok_or_else(|| CoreError::not_found("job", id))
    }

    pub async fn stats(&self) -> CoreResult<QueueStats> {
        Ok(self.store.stats(self.clock.now_ms()).await?)
    }
}
