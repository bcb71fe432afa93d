//! `JobStore` on SQL. PostgreSQL claims with `FOR UPDATE SKIP LOCKED` and wakes workers with
//! `LISTEN/NOTIFY`; SQLite (one writer at a time) claims with a single `UPDATE … RETURNING`
//! and wakes workers of this process in memory. Completions are batched, fenced by the lease
//! owner, and write the completion ledger (`job_runs`) in the same transaction.

mod completion;
mod wake;

use crate::query::{q, q_built, values_list, Query, Target};
use crate::{Db, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId};
use conea_core::store::{StoreError, StoreResult};
use conea_jobs::{
    AttemptError, Enqueued, Job, JobFilter, JobState, JobStore, Leases, NewJob, Outcome, QueueStats,
};
use serde_json::Value;
use sqlx::types::Json;
use std::time::Duration;

pub const CHANNEL: &str = "conea_jobs";

/// Jobs enqueued in one call from which the table's statistics are refreshed.
pub const BULK_ANALYZE_ROWS: u64 = 10_000;

const COLUMNS: &str = "id, kind, organization_id, args, state, priority, attempt, max_attempts, scheduled_at, \
    lease_owner, lease_expires_at, progress, progress_message, result, errors, unique_key, cancel_requested, \
    created_at, started_at, finished_at, claimed_ahead";

pub(crate) const LIVE: &str = "('available', 'scheduled', 'running', 'retryable')";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    organization_id: String,
    args: Json<Value>,
    state: String,
    priority: i32,
    attempt: i32,
    max_attempts: i32,
    scheduled_at: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
    progress: i32,
    progress_message: Option<String>,
    result: Option<Json<Value>>,
    errors: Json<Vec<AttemptError>>,
    unique_key: Option<String>,
    cancel_requested: bool,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    claimed_ahead: bool,
}

impl JobRow {
    fn into_job(self) -> StoreResult<Job> {
        let bad = |what: &str| StoreError::Other(format!("corrupt job row: {what}"));
        Ok(Job {
            id: JobId::parse(&self.id).map_err(|_| bad("id"))?,
            kind: self.kind,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization_id"))?,
            args: self.args.0,
            state: JobState::parse(&self.state).ok_or_else(|| bad("state"))?,
            priority: self.priority,
            attempt: self.attempt.max(0) as u32,
            max_attempts: self.max_attempts.max(0) as u32,
            scheduled_at: self.scheduled_at,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at,
            progress: self.progress.clamp(0, 100) as u8,
            progress_message: self.progress_message,
            result: self.result.map(|j| j.0),
            errors: self.errors.0,
            unique_key: self.unique_key,
            cancel_requested: self.cancel_requested,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            claimed_ahead: self.claimed_ahead,
        })
    }
}

fn jobs(rows: Vec<JobRow>) -> StoreResult<Vec<Job>> {
    rows.into_iter().map(JobRow::into_job).collect()
}

fn ids_json(ids: &[JobId]) -> String {
    serde_json::to_string(&ids.iter().map(JobId::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

/// `id IN (…)` for a JSON array bound as `$n`, portable across both backends.
fn in_ids(db: &Db, n: usize) -> String {
    match db {
        Db::Postgres(_) => format!("id IN (SELECT jsonb_array_elements_text(${n}::jsonb))"),
        Db::Sqlite(_) => format!("id IN (SELECT value FROM json_each(${n}))"),
    }
}

impl SqlStore {
    async fn live_by_unique_key(&self, key: &str) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE unique_key = $1 AND state IN {LIVE}");
        q_built(
            "live_by_unique_key",
            "SELECT … FROM jobs WHERE unique_key = $1",
            sql,
        )
        .bind(key)
        .fetch_optional::<JobRow>(&self.primary(SUBJECT))
        .await?
        .map(JobRow::into_job)
        .transpose()
    }
}

const SUBJECT: &str = "job";

/// The text the slow-statement log shows for statements built at run time.
const BUILT: &str = "jobs statement";

async fn fetch_jobs(q: Query<'_>, db: &Target<'_>) -> StoreResult<Vec<Job>> {
    jobs(q.fetch_all::<JobRow>(db).await?)
}

/// The one statement that inserts a job (`$1`…`$10`, bound by [`bind_new_job!`]); a live job
/// with the same unique key makes it insert nothing. Other stores run it inside their own
/// transactions (a webhook delivery and its job commit together).
pub(crate) fn insert_job_sql() -> String {
    format!(
        "INSERT INTO jobs (id, kind, organization_id, args, state, priority, max_attempts, scheduled_at, unique_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN {LIVE} DO NOTHING \
         RETURNING {COLUMNS}"
    )
}

/// Binds a `NewJob` (with its id and the time) to [`insert_job_sql`].
pub(crate) fn bind_new_job<'q>(
    q: Query<'q>,
    id: &'q JobId,
    job: &'q NewJob,
    now: EpochMs,
) -> Query<'q> {
    let (state, scheduled_at) = initial_state(job, now);
    q.bind(id.as_str())
        .bind(&job.kind)
        .bind(job.org_id.as_str())
        .bind_json(&job.args)
        .bind(state)
        .bind(job.priority)
        .bind(job.max_attempts as i32)
        .bind(scheduled_at)
        .bind(job.unique_key.as_deref())
        .bind(now)
}

pub(crate) fn initial_state(job: &NewJob, now: EpochMs) -> (&'static str, EpochMs) {
    match job.scheduled_at {
        Some(at) if at > now => ("scheduled", at),
        _ => ("available", now),
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn enqueue(&self, job: &NewJob, now: EpochMs) -> StoreResult<Enqueued> {
        let id = JobId::generate();
        let sql = insert_job_sql();
        let inserted = bind_new_job(q_built("enqueue", "INSERT INTO jobs …", sql), &id, job, now)
            .fetch_optional::<JobRow>(&self.primary(SUBJECT))
            .await?;
        match inserted {
            Some(row) => {
                self.notify_workers().await;
                Ok(Enqueued {
                    job: row.into_job()?,
                    created: true,
                })
            }
            None => {
                let key = job.unique_key.as_deref().unwrap_or_default();
                match self.live_by_unique_key(key).await? {
                    Some(existing) => Ok(Enqueued {
                        job: existing,
                        created: false,
                    }),
                    // The live job finished between the insert and the read: try again.
                    None => Box::pin(self.enqueue(job, now)).await,
                }
            }
        }
    }

    async fn enqueue_many(&self, new_jobs: &[NewJob], now: EpochMs) -> StoreResult<u64> {
        let mut total = 0u64;
        for chunk in new_jobs.chunks(500) {
            let sql = format!(
                "INSERT INTO jobs (id, kind, organization_id, args, state, priority, max_attempts, scheduled_at, created_at) VALUES {}",
                values_list(chunk.len(), 9)
            );
            let mut insert = q_built("enqueue_many", "INSERT INTO jobs … VALUES …", sql);
            for job in chunk {
                let (state, scheduled_at) = initial_state(job, now);
                insert = insert
                    .bind(JobId::generate().to_string())
                    .bind(&job.kind)
                    .bind(job.org_id.to_string())
                    .bind_json(&job.args)
                    .bind(state)
                    .bind(job.priority)
                    .bind(job.max_attempts as i32)
                    .bind(scheduled_at)
                    .bind(now);
            }
            total += insert.execute(&self.primary(SUBJECT)).await?;
        }
        if total >= BULK_ANALYZE_ROWS {
            // A bulk load: PostgreSQL's planner has no statistics for it until autovacuum
            // comes by (a minute or more), and without them the claim sorts the whole queue
            // on every call and the finish loops over every running job (drain 17.7k vs
            // 29.0k jobs/s on 100,000 jobs). The manual's advice after a bulk load: ANALYZE.
            let analyzed = q("analyze_jobs", "ANALYZE jobs")
                .execute(&self.primary(SUBJECT))
                .await;
            if let Err(e) = analyzed {
                tracing::warn!(error = %e, "ANALYZE jobs after a bulk enqueue failed; claims may be slow until autovacuum runs");
            }
        }
        self.notify_workers().await;
        Ok(total)
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        start: u32,
        now: EpochMs,
        lease: Duration,
    ) -> StoreResult<Vec<Job>> {
        let lock = match self.db {
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Db::Sqlite(_) => "",
        };
        // The first `start` jobs (in claim order) start now and count their attempt; the
        // rest are claimed ahead. The window function sits outside the locking subquery
        // (PostgreSQL allows no FOR UPDATE beside one).
        let sql = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, \
             claimed_ahead = (c.n > $5), \
             attempt = attempt + CASE WHEN c.n > $5 THEN 0 ELSE 1 END, \
             progress_at_start = CASE WHEN c.n > $5 THEN progress_at_start ELSE progress END, \
             started_at = CASE WHEN c.n > $5 THEN started_at ELSE COALESCE(started_at, $3) END \
             FROM (SELECT s.id AS claim_id, row_number() OVER (ORDER BY s.priority, s.scheduled_at, s.id) AS n \
                   FROM (SELECT id, priority, scheduled_at FROM jobs \
                         WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $3 \
                         ORDER BY priority, scheduled_at, id LIMIT $4 {lock}) s) c \
             WHERE jobs.id = c.claim_id \
             RETURNING {COLUMNS}"
        );
        let lease_until = now + lease.as_millis() as i64;
        fetch_jobs(
            q_built("claim", BUILT, sql)
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(i64::from(limit))
                .bind(i64::from(start)),
            &self.primary(SUBJECT),
        )
        .await
    }

    async fn mark_started(&self, worker: &str, ids: &[JobId], now: EpochMs) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE jobs SET attempt = attempt + 1, claimed_ahead = FALSE, progress_at_start = progress, \
             started_at = COALESCE(started_at, $1) \
             WHERE lease_owner = $2 AND state = 'running' AND claimed_ahead AND {}",
            in_ids(&self.db, 3)
        );
        q_built("mark_started", BUILT, sql)
            .bind(now)
            .bind(worker)
            .bind(ids_json(ids))
            .execute(&self.primary(SUBJECT))
            .await
    }

    async fn heartbeat(
        &self,
        worker: &str,
        ids: &[JobId],
        lease_until: EpochMs,
    ) -> StoreResult<Leases> {
        let sql = format!(
            "UPDATE jobs SET lease_expires_at = $1 WHERE lease_owner = $2 AND state = 'running' AND {} \
             RETURNING {COLUMNS}",
            in_ids(&self.db, 3)
        );
        let rows = fetch_jobs(
            q_built("heartbeat", BUILT, sql)
                .bind(lease_until)
                .bind(worker)
                .bind(ids_json(ids)),
            &self.primary(SUBJECT),
        )
        .await?;
        let mut leases = Leases::default();
        for job in rows {
            if job.cancel_requested {
                leases.cancel_requested.push(job.id.clone());
            }
            leases.kept.push(job.id);
        }
        Ok(leases)
    }

    async fn finish(
        &self,
        worker: &str,
        done: &[(Job, Outcome)],
        now: EpochMs,
    ) -> StoreResult<u64> {
        self.finish_jobs(worker, done, now).await
    }

    async fn release(&self, worker: &str, ids: &[JobId], now: EpochMs) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE jobs SET state = 'available', attempt = attempt - CASE WHEN claimed_ahead THEN 0 ELSE 1 END, \
             claimed_ahead = FALSE, scheduled_at = $1, lease_owner = NULL, \
             lease_expires_at = NULL WHERE lease_owner = $2 AND state = 'running' AND {}",
            in_ids(&self.db, 3)
        );
        let n = q_built("release", BUILT, sql)
            .bind(now)
            .bind(worker)
            .bind(ids_json(ids))
            .execute(&self.primary(SUBJECT))
            .await?;
        self.notify_workers().await;
        Ok(n)
    }

    async fn rescue_expired(
        &self,
        now: EpochMs,
        retry_at: &(dyn Fn(u32) -> EpochMs + Send + Sync),
    ) -> StoreResult<u64> {
        self.rescue_expired_jobs(now, retry_at).await
    }

    async fn set_progress(
        &self,
        worker: &str,
        id: &JobId,
        progress: u8,
        message: Option<&str>,
    ) -> StoreResult<()> {
        q(
            "set_progress",
            "UPDATE jobs SET progress = $1, progress_message = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
        )
        .bind(i64::from(progress))
        .bind(message)
        .bind(id.to_string())
        .bind(worker)
        .execute(&self.primary(SUBJECT))
        .await
        .map(drop)
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        Ok(fetch_jobs(
            q_built("get_job", BUILT, sql).bind(id.to_string()),
            &self.routed(SUBJECT),
        )
        .await?
        .into_iter()
        .next())
    }

    /// An organization's jobs, newest first, through `organization_jobs` (written once per
    /// job by a trigger; an index on `jobs` would take a new entry at every claim and finish).
    async fn list(&self, org: &OrgId, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE id IN ( \
               SELECT o.job_id FROM organization_jobs o JOIN jobs j ON j.id = o.job_id \
               WHERE o.organization_id = $1 AND ($2 IS NULL OR j.state = $2) \
               AND ($3 IS NULL OR j.kind = $3) AND ($4 IS NULL OR o.job_id < $4) \
               ORDER BY o.job_id DESC LIMIT $5) \
             ORDER BY id DESC"
        );
        fetch_jobs(
            q_built("list_jobs", BUILT, sql)
                .bind(org.to_string())
                .bind(filter.state.map(|s| s.as_str().to_owned()))
                .bind(filter.kind.clone())
                .bind(filter.after.clone())
                .bind(i64::from(filter.limit)),
            &self.routed(SUBJECT),
        )
        .await
    }

    async fn cancel(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>> {
        q(
            "cancel_waiting",
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, cancel_requested = TRUE \
             WHERE id = $2 AND state IN ('available', 'scheduled', 'retryable')",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&self.primary(SUBJECT))
        .await?;
        q(
            "cancel_running",
            "UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND state = 'running'",
        )
        .bind(id.to_string())
        .execute(&self.primary(SUBJECT))
        .await?;
        self.get(id).await
    }

    async fn retry(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>> {
        q("retry_job", "UPDATE jobs SET state = 'available', attempt = 0, scheduled_at = $1, finished_at = NULL, \
             cancel_requested = FALSE, lease_owner = NULL, lease_expires_at = NULL, progress = 0, progress_message = NULL \
             WHERE id = $2 AND state IN ('discarded', 'cancelled')")
        .bind(now)
        .bind(id.to_string())
        .execute(&self.primary(SUBJECT))
        .await?;
        self.notify_workers().await;
        self.get(id).await
    }

    async fn prune(&self, before: EpochMs) -> StoreResult<u64> {
        let n = q("prune_jobs", "DELETE FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < $1")
        .bind(before)
        .execute(&self.primary(SUBJECT))
            .await?;
        q(
            "prune_job_runs",
            "DELETE FROM job_runs WHERE completed_at < $1",
        )
        .bind(before)
        .execute(&self.primary(SUBJECT))
        .await?;
        q(
            "prune_idempotency",
            "DELETE FROM idempotency_keys WHERE expires_at < $1",
        )
        .bind(before)
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(n)
    }

    async fn stats(&self, now: EpochMs) -> StoreResult<QueueStats> {
        #[derive(sqlx::FromRow)]
        struct CountRow {
            kind: String,
            state: String,
            n: i64,
        }
        let db = self.primary(SUBJECT);
        let counts: Vec<CountRow> = q(
            "queue_counts",
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&db)
        .await?;
        let (oldest,): (Option<i64>,) = q(
            "queue_oldest",
            "SELECT MIN(scheduled_at) FROM jobs WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $1",
        )
        .bind(now)
        .fetch_one(&db)
        .await?;
        let (discarded,): (i64,) = q(
            "queue_discarded_last_hour",
            "SELECT COUNT(*) FROM jobs WHERE state = 'discarded' AND finished_at >= $1",
        )
        .bind(now - 3_600_000)
        .fetch_one(&db)
        .await?;
        Ok(QueueStats {
            counts: counts
                .into_iter()
                .filter_map(|r| JobState::parse(&r.state).map(|s| (r.kind, s, r.n)))
                .collect(),
            oldest_available_age_ms: oldest.map(|o| (now - o).max(0)),
            discarded_last_hour: discarded,
        })
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.wait_for_job_notice(timeout).await
    }
}
