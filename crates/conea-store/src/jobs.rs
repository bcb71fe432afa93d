//! `JobStore` on SQL. PostgreSQL claims with `FOR UPDATE SKIP LOCKED` and wakes workers with
//! `LISTEN/NOTIFY`; SQLite (one writer at a time) claims with a single `UPDATE … RETURNING`
//! and wakes workers of this process in memory. Completions are batched, fenced by the lease
//! owner, and write the completion ledger (`job_runs`) in the same transaction.

use crate::errors::map;
use crate::{with_pool, Db, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId};
use conea_core::store::{StoreError, StoreResult};
use conea_jobs::{
    AttemptError, Enqueued, Job, JobFilter, JobState, JobStore, NewJob, Outcome, QueueStats,
};
use serde_json::Value;
use sqlx::types::Json;
use std::time::Duration;

pub const CHANNEL: &str = "conea_jobs";

/// Jobs enqueued in one call from which the table's statistics are refreshed.
pub const BULK_ANALYZE_ROWS: u64 = 10_000;

const COLUMNS: &str = "id, kind, organization_id, args, state, priority, attempt, max_attempts, scheduled_at, \
    lease_owner, lease_expires_at, progress, progress_message, result, errors, unique_key, cancel_requested, \
    created_at, started_at, finished_at";

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
    pub(crate) async fn notify_workers(&self) {
        self.jobs_wake.notify_waiters();
        if let Db::Postgres(p) = &self.db {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(p)
                .await
            {
                tracing::warn!(error = %e, "NOTIFY for new jobs failed; workers will poll");
            }
        }
    }

    async fn live_by_unique_key(&self, key: &str) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE unique_key = $1 AND state IN {LIVE}");
        let row = with_pool!(&self.db, |p| sqlx::query_as::<DB, JobRow>(&sql)
            .bind(key)
            .fetch_optional(p)
            .await)
        .map_err(|e| map(e, "job"))?;
        row.map(JobRow::into_job).transpose()
    }

    async fn fetch_jobs(
        &self,
        name: &'static str,
        sql: &str,
        binds: Vec<BindValue>,
    ) -> StoreResult<Vec<Job>> {
        self.fetch_jobs_from(&self.db, name, sql, binds).await
    }

    async fn fetch_jobs_from(
        &self,
        db: &Db,
        name: &'static str,
        sql: &str,
        binds: Vec<BindValue>,
    ) -> StoreResult<Vec<Job>> {
        let rows = self
            .stats
            .time(name, "jobs statement", async {
                with_pool!(db, |p| {
                    let mut q = sqlx::query_as::<DB, JobRow>(sql);
                    for b in &binds {
                        q = match b {
                            BindValue::Text(t) => q.bind(t.clone()),
                            BindValue::OptText(t) => q.bind(t.clone()),
                            BindValue::Int(i) => q.bind(*i),
                        };
                    }
                    q.fetch_all(p).await
                })
            })
            .await
            .map_err(|e| map(e, "job"))?;
        jobs(rows)
    }

    async fn exec(&self, name: &'static str, sql: &str, binds: Vec<BindValue>) -> StoreResult<u64> {
        self.stats
            .time(name, "jobs statement", async {
                with_pool!(&self.db, |p| {
                    let mut q = sqlx::query::<DB>(sql);
                    for b in &binds {
                        q = match b {
                            BindValue::Text(t) => q.bind(t.clone()),
                            BindValue::OptText(t) => q.bind(t.clone()),
                            BindValue::Int(i) => q.bind(*i),
                        };
                    }
                    q.execute(p).await.map(|r| r.rows_affected())
                })
            })
            .await
            .map_err(|e| map(e, "job"))
    }
}

enum BindValue {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}
use BindValue::{Int, OptText, Text};

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
macro_rules! bind_new_job {
    ($q:expr, $id:expr, $job:expr, $now:expr) => {{
        let (state, scheduled_at) = $crate::jobs::initial_state($job, $now);
        $q.bind($id.as_str())
            .bind(&$job.kind)
            .bind($job.org_id.as_str())
            .bind(sqlx::types::Json(&$job.args))
            .bind(state)
            .bind($job.priority)
            .bind($job.max_attempts as i32)
            .bind(scheduled_at)
            .bind($job.unique_key.as_deref())
            .bind($now)
    }};
}
pub(crate) use bind_new_job;

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
        let inserted = self
            .stats
            .time("enqueue", "INSERT INTO jobs …", async {
                with_pool!(&self.db, |p| bind_new_job!(
                    sqlx::query_as::<DB, JobRow>(&sql),
                    &id,
                    job,
                    now
                )
                .fetch_optional(p)
                .await)
            })
            .await
            .map_err(|e| map(e, "job"))?;
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
            let n = with_pool!(&self.db, |p| {
                let mut qb = sqlx::QueryBuilder::<DB>::new(
                    "INSERT INTO jobs (id, kind, organization_id, args, state, priority, max_attempts, scheduled_at, created_at) ",
                );
                qb.push_values(chunk, |mut b, job| {
                    let (state, scheduled_at) = initial_state(job, now);
                    b.push_bind(JobId::generate().to_string())
                        .push_bind(job.kind.clone())
                        .push_bind(job.org_id.to_string())
                        .push_bind(Json(job.args.clone()))
                        .push_bind(state)
                        .push_bind(job.priority)
                        .push_bind(job.max_attempts as i32)
                        .push_bind(scheduled_at)
                        .push_bind(now);
                });
                qb.build().execute(p).await.map(|r| r.rows_affected())
            })
            .map_err(|e| map(e, "job"))?;
            total += n;
        }
        if total >= BULK_ANALYZE_ROWS {
            // A bulk load: PostgreSQL's planner has no statistics for it until autovacuum
            // comes by (a minute or more), and without them the claim sorts the whole queue
            // on every call and the finish loops over every running job (drain 17.7k vs
            // 29.0k jobs/s on 100,000 jobs). The manual's advice after a bulk load: ANALYZE.
            let analyzed = with_pool!(&self.db, |p| sqlx::query::<DB>("ANALYZE jobs")
                .execute(p)
                .await
                .map(|_| ()));
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
        now: EpochMs,
        lease: Duration,
    ) -> StoreResult<Vec<Job>> {
        let lock = match self.db {
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            Db::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_expires_at = $2, \
             started_at = COALESCE(started_at, $3) \
             WHERE id IN (SELECT id FROM jobs WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $3 \
                          ORDER BY priority, scheduled_at, id LIMIT $4 {lock}) \
             RETURNING {COLUMNS}"
        );
        let lease_until = now + lease.as_millis() as i64;
        self.fetch_jobs(
            "claim",
            &sql,
            vec![
                Text(worker.into()),
                Int(lease_until),
                Int(now),
                Int(i64::from(limit)),
            ],
        )
        .await
    }

    async fn heartbeat(
        &self,
        worker: &str,
        ids: &[JobId],
        lease_until: EpochMs,
    ) -> StoreResult<Vec<JobId>> {
        let sql = format!(
            "UPDATE jobs SET lease_expires_at = $1 WHERE lease_owner = $2 AND state = 'running' AND {} \
             RETURNING {COLUMNS}",
            in_ids(&self.db, 3)
        );
        let rows = self
            .fetch_jobs(
                "heartbeat",
                &sql,
                vec![Int(lease_until), Text(worker.into()), Text(ids_json(ids))],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(|j| j.cancel_requested)
            .map(|j| j.id)
            .collect())
    }

    async fn finish(
        &self,
        worker: &str,
        done: &[(Job, Outcome)],
        now: EpochMs,
    ) -> StoreResult<u64> {
        let completed: Vec<(&Job, &Value)> = done
            .iter()
            .filter_map(|(j, o)| match o {
                Outcome::Completed { result } => Some((j, result)),
                _ => None,
            })
            .collect();
        let db = self.db.clone();
        self.stats
            .time("finish", "UPDATE jobs … (finish)", async {
                with_pool!(&db, |p| {
                    let mut tx = p.begin().await?;
                    let mut changed = 0u64;
                    if !completed.is_empty() {
                        // One statement completes the batch and writes the ledger.
                        let ids: Vec<&str> = completed.iter().map(|(j, _)| j.id.as_str()).collect();
                        let results: Vec<&Value> = completed.iter().map(|(_, r)| *r).collect();
                        let batch = serde_json::json!({"ids": ids, "results": results}).to_string();
                        let sql = match &db {
                            Db::Postgres(_) => {
                                "WITH input AS (SELECT a.id, r.result FROM \
                                   jsonb_array_elements_text(($1::jsonb)->'ids') WITH ORDINALITY AS a(id, n) \
                                   JOIN jsonb_array_elements(($1::jsonb)->'results') WITH ORDINALITY AS r(result, n) USING (n)), \
                                 done AS (UPDATE jobs j SET state = 'completed', result = input.result, progress = 100, \
                                   finished_at = $2, lease_owner = NULL, lease_expires_at = NULL \
                                   FROM input WHERE j.id = input.id AND j.lease_owner = $3 AND j.state = 'running' \
                                   RETURNING j.id, j.kind, j.attempt) \
                                 INSERT INTO job_runs (job_id, kind, worker, attempt, completed_at) \
                                 SELECT id, kind, $3, attempt, $2 FROM done"
                            }
                            Db::Sqlite(_) => "",
                        };
                        if !sql.is_empty() {
                            changed += sqlx::query::<DB>(sql)
                                .bind(&batch)
                                .bind(now)
                                .bind(worker)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                        } else {
                            for (job, result) in &completed {
                                let n = sqlx::query::<DB>(
                                    "UPDATE jobs SET state = 'completed', result = $1, progress = 100, finished_at = $2, \
                                     lease_owner = NULL, lease_expires_at = NULL \
                                     WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
                                )
                                .bind(Json(*result))
                                .bind(now)
                                .bind(job.id.as_str())
                                .bind(worker)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                                if n == 1 {
                                    sqlx::query::<DB>(
                                        "INSERT INTO job_runs (job_id, kind, worker, attempt, completed_at) \
                                         SELECT id, kind, $1, attempt, $2 FROM jobs WHERE id = $3",
                                    )
                                    .bind(worker)
                                    .bind(now)
                                    .bind(job.id.as_str())
                                    .execute(&mut *tx)
                                    .await?;
                                }
                                changed += n;
                            }
                        }
                    }
                    for (job, outcome) in done {
                        let (state, scheduled_at, error) = match outcome {
                            Outcome::Completed { .. } => continue,
                            Outcome::Failed { error, retry_at: Some(at) } => ("retryable", *at, Some(error)),
                            Outcome::Failed { error, retry_at: None } => ("discarded", job.scheduled_at, Some(error)),
                            Outcome::Cancelled => ("cancelled", job.scheduled_at, None),
                        };
                        let mut errors = job.errors.clone();
                        if let Some(e) = error {
                            errors.push(AttemptError {
                                attempt: job.attempt,
                                at: now,
                                error: e.clone(),
                            });
                        }
                        let finished = (state != "retryable").then_some(now);
                        changed += sqlx::query::<DB>(
                            "UPDATE jobs SET state = $1, scheduled_at = $2, errors = $3, finished_at = $4, \
                             lease_owner = NULL, lease_expires_at = NULL \
                             WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
                        )
                        .bind(state)
                        .bind(scheduled_at)
                        .bind(Json(&errors))
                        .bind(finished)
                        .bind(job.id.as_str())
                        .bind(worker)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    }
                    tx.commit().await?;
                    Ok::<u64, sqlx::Error>(changed)
                })
            })
            .await
            .map_err(|e| map(e, "job"))
    }

    async fn release(&self, worker: &str, ids: &[JobId], now: EpochMs) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE jobs SET state = 'available', attempt = attempt - 1, scheduled_at = $1, lease_owner = NULL, \
             lease_expires_at = NULL WHERE lease_owner = $2 AND state = 'running' AND {}",
            in_ids(&self.db, 3)
        );
        let n = self
            .exec(
                "release",
                &sql,
                vec![Int(now), Text(worker.into()), Text(ids_json(ids))],
            )
            .await?;
        self.notify_workers().await;
        Ok(n)
    }

    async fn rescue_expired(
        &self,
        now: EpochMs,
        retry_at: &(dyn Fn(u32) -> EpochMs + Send + Sync),
    ) -> StoreResult<u64> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT 500");
        let expired = self
            .fetch_jobs("find_expired", &sql, vec![Int(now)])
            .await?;
        let mut rescued = 0;
        for job in expired {
            let owner = job.lease_owner.clone().unwrap_or_default();
            let mut errors = job.errors.clone();
            errors.push(AttemptError {
                attempt: job.attempt,
                at: now,
                error: format!(
                    "lease expired: worker `{owner}` stopped heartbeating (crashed or stalled)"
                ),
            });
            let (state, at, finished) = if job.attempt < job.max_attempts {
                ("retryable", retry_at(job.attempt), None)
            } else {
                ("discarded", job.scheduled_at, Some(now))
            };
            let errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into());
            let cast = match self.db {
                Db::Postgres(_) => "$3::jsonb",
                Db::Sqlite(_) => "$3",
            };
            let sql = format!(
                "UPDATE jobs SET state = $1, scheduled_at = $2, errors = {cast}, finished_at = $4, lease_owner = NULL, \
                 lease_expires_at = NULL WHERE id = $5 AND state = 'running' AND lease_owner = $6 AND lease_expires_at < $7"
            );
            rescued += self
                .stats
                .time("rescue", "UPDATE jobs … (rescue)", async {
                    with_pool!(&self.db, |p| sqlx::query::<DB>(&sql)
                        .bind(state)
                        .bind(at)
                        .bind(&errors)
                        .bind(finished)
                        .bind(job.id.as_str())
                        .bind(&owner)
                        .bind(now)
                        .execute(p)
                        .await
                        .map(|r| r.rows_affected()))
                })
                .await
                .map_err(|e| map(e, "job"))?;
        }
        if rescued > 0 {
            self.notify_workers().await;
        }
        Ok(rescued)
    }

    async fn set_progress(
        &self,
        worker: &str,
        id: &JobId,
        progress: u8,
        message: Option<&str>,
    ) -> StoreResult<()> {
        self.exec(
            "set_progress",
            "UPDATE jobs SET progress = $1, progress_message = $2 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
            vec![Int(i64::from(progress)), OptText(message.map(str::to_owned)), Text(id.to_string()), Text(worker.into())],
        )
        .await
        .map(drop)
    }

    async fn get(&self, id: &JobId) -> StoreResult<Option<Job>> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        Ok(self
            .fetch_jobs_from(
                self.routed_db(),
                "get_job",
                &sql,
                vec![Text(id.to_string())],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn list(&self, org: &OrgId, filter: &JobFilter) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE organization_id = $1 \
             AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR kind = $3) AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        );
        self.fetch_jobs_from(
            self.routed_db(),
            "list_jobs",
            &sql,
            vec![
                Text(org.to_string()),
                OptText(filter.state.map(|s| s.as_str().to_owned())),
                OptText(filter.kind.clone()),
                OptText(filter.after.clone()),
                Int(i64::from(filter.limit)),
            ],
        )
        .await
    }

    async fn cancel(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>> {
        self.exec(
            "cancel_waiting",
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, cancel_requested = TRUE \
             WHERE id = $2 AND state IN ('available', 'scheduled', 'retryable')",
            vec![Int(now), Text(id.to_string())],
        )
        .await?;
        self.exec(
            "cancel_running",
            "UPDATE jobs SET cancel_requested = TRUE WHERE id = $1 AND state = 'running'",
            vec![Text(id.to_string())],
        )
        .await?;
        self.get(id).await
    }

    async fn retry(&self, id: &JobId, now: EpochMs) -> StoreResult<Option<Job>> {
        self.exec(
            "retry_job",
            "UPDATE jobs SET state = 'available', attempt = 0, scheduled_at = $1, finished_at = NULL, \
             cancel_requested = FALSE, lease_owner = NULL, lease_expires_at = NULL, progress = 0, progress_message = NULL \
             WHERE id = $2 AND state IN ('discarded', 'cancelled')",
            vec![Int(now), Text(id.to_string())],
        )
        .await?;
        self.notify_workers().await;
        self.get(id).await
    }

    async fn prune(&self, before: EpochMs) -> StoreResult<u64> {
        let n = self
            .exec(
                "prune_jobs",
                "DELETE FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < $1",
                vec![Int(before)],
            )
            .await?;
        self.exec(
            "prune_job_runs",
            "DELETE FROM job_runs WHERE completed_at < $1",
            vec![Int(before)],
        )
        .await?;
        self.exec(
            "prune_idempotency",
            "DELETE FROM idempotency_keys WHERE expires_at < $1",
            vec![Int(before)],
        )
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
        let counts: Vec<CountRow> = with_pool!(&self.db, |p| {
            sqlx::query_as::<DB, CountRow>(
            "SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state"
        )
        .fetch_all(p)
        .await
        })
        .map_err(|e| map(e, "job"))?;
        let oldest: Option<i64> = with_pool!(&self.db, |p| sqlx::query_scalar::<DB, Option<i64>>(
            "SELECT MIN(scheduled_at) FROM jobs WHERE state IN ('available', 'scheduled', 'retryable') AND scheduled_at <= $1"
        )
        .bind(now)
        .fetch_one(p)
        .await)
        .map_err(|e| map(e, "job"))?;
        let discarded: i64 = with_pool!(&self.db, |p| sqlx::query_scalar::<DB, i64>(
            "SELECT COUNT(*) FROM jobs WHERE state = 'discarded' AND finished_at >= $1"
        )
        .bind(now - 3_600_000)
        .fetch_one(p)
        .await)
        .map_err(|e| map(e, "job"))?;
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
        match &self.db {
            Db::Sqlite(_) => {
                let _ = tokio::time::timeout(timeout, self.jobs_wake.notified()).await;
            }
            Db::Postgres(pool) => {
                let mut guard = match tokio::time::timeout(timeout, self.listener.lock()).await {
                    Ok(g) => g,
                    Err(_) => return,
                };
                if guard.is_none() {
                    match sqlx::postgres::PgListener::connect_with(pool).await {
                        Ok(mut l) => match l.listen(CHANNEL).await {
                            Ok(()) => *guard = Some(l),
                            Err(e) => tracing::warn!(error = %e, "LISTEN failed; polling for jobs"),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot open the LISTEN connection; polling for jobs")
                        }
                    }
                }
                match guard.as_mut() {
                    Some(l) => {
                        if let Ok(Err(e)) = tokio::time::timeout(timeout, l.recv()).await {
                            tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                            *guard = None;
                        }
                    }
                    None => tokio::time::sleep(timeout).await,
                }
            }
        }
    }
}
