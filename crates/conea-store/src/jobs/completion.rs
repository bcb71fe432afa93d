//! Finishing jobs: a batch of outcomes fenced by the lease owner (completions write the
//! `job_runs` ledger in the same transaction), and the rescue of jobs whose lease expired.

use super::{fetch_jobs, BUILT, COLUMNS, SUBJECT};
use crate::query::{q, q_built};
use crate::{Db, SqlStore};
use conea_core::clock::EpochMs;
use conea_core::store::StoreResult;
use conea_jobs::{AttemptError, Job, Outcome};
use serde_json::Value;

impl SqlStore {
    pub(super) async fn finish_jobs(
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
        let db = self.primary(SUBJECT);
        db.timed("finish", "UPDATE jobs … (finish)", async {
            let mut tx = db.begin().await?;
            let mut changed = 0u64;
            if !completed.is_empty() {
                // One statement completes the batch and writes the ledger.
                let ids: Vec<&str> = completed.iter().map(|(j, _)| j.id.as_str()).collect();
                let results: Vec<&Value> = completed.iter().map(|(_, r)| *r).collect();
                let batch = serde_json::json!({"ids": ids, "results": results}).to_string();
                match db.db() {
                    Db::Postgres(_) => {
                        changed += q(
                            "finish",
                            "WITH input AS (SELECT a.id, r.result FROM \
                               jsonb_array_elements_text(($1::jsonb)->'ids') WITH ORDINALITY AS a(id, n) \
                               JOIN jsonb_array_elements(($1::jsonb)->'results') WITH ORDINALITY AS r(result, n) USING (n)), \
                             done AS (UPDATE jobs j SET state = 'completed', result = input.result, progress = 100, \
                               finished_at = $2, lease_owner = NULL, lease_expires_at = NULL, \
                               attempt = j.attempt + CASE WHEN j.claimed_ahead THEN 1 ELSE 0 END, \
                               claimed_ahead = FALSE, started_at = COALESCE(j.started_at, $2) \
                               FROM input WHERE j.id = input.id AND j.lease_owner = $3 AND j.state = 'running' \
                               RETURNING j.id, j.kind, j.attempt) \
                             INSERT INTO job_runs (job_id, kind, worker, attempt, completed_at) \
                             SELECT id, kind, $3, attempt, $2 FROM done",
                        )
                        .bind(&batch)
                        .bind(now)
                        .bind(worker)
                        .execute_in(&mut tx)
                        .await?;
                    }
                    Db::Sqlite(_) => {
                        for (job, result) in &completed {
                            let n = q(
                                "finish",
                                "UPDATE jobs SET state = 'completed', result = $1, progress = 100, finished_at = $2, \
                                 lease_owner = NULL, lease_expires_at = NULL, \
                                 attempt = attempt + CASE WHEN claimed_ahead THEN 1 ELSE 0 END, \
                                 claimed_ahead = FALSE, started_at = COALESCE(started_at, $2) \
                                 WHERE id = $3 AND lease_owner = $4 AND state = 'running'",
                            )
                            .bind_json(*result)
                            .bind(now)
                            .bind(job.id.as_str())
                            .bind(worker)
                            .execute_in(&mut tx)
                            .await?;
                            if n == 1 {
                                q(
                                    "finish",
                                    "INSERT INTO job_runs (job_id, kind, worker, attempt, completed_at) \
                                     SELECT id, kind, $1, attempt, $2 FROM jobs WHERE id = $3",
                                )
                                .bind(worker)
                                .bind(now)
                                .bind(job.id.as_str())
                                .execute_in(&mut tx)
                                .await?;
                            }
                            changed += n;
                        }
                    }
                }
            }
            for (job, outcome) in done {
                let (state, scheduled_at, error) = match outcome {
                    Outcome::Completed { .. } => continue,
                    Outcome::Failed {
                        error,
                        retry_at: Some(at),
                    } => ("retryable", *at, Some(error)),
                    Outcome::Failed {
                        error,
                        retry_at: None,
                    } => ("discarded", job.scheduled_at, Some(error)),
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
                changed += q(
                    "finish",
                    "UPDATE jobs SET state = $1, scheduled_at = $2, errors = $3, finished_at = $4, \
                     lease_owner = NULL, lease_expires_at = NULL, \
                     attempt = attempt + CASE WHEN claimed_ahead THEN 1 ELSE 0 END, \
                     claimed_ahead = FALSE, started_at = COALESCE(started_at, $7) \
                     WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
                )
                .bind(state)
                .bind(scheduled_at)
                .bind_json(&errors)
                .bind(finished)
                .bind(job.id.as_str())
                .bind(worker)
                .bind(now)
                .execute_in(&mut tx)
                .await?;
            }
            tx.commit().await?;
            Ok(changed)
        })
        .await
    }

    pub(super) async fn rescue_expired_jobs(
        &self,
        now: EpochMs,
        retry_at: &(dyn Fn(u32) -> EpochMs + Send + Sync),
    ) -> StoreResult<u64> {
        let sql = format!("SELECT {COLUMNS} FROM jobs WHERE state = 'running' AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT 500");
        let expired = fetch_jobs(
            q_built("find_expired", BUILT, sql).bind(now),
            &self.primary(SUBJECT),
        )
        .await?;
        let mut rescued = 0;
        for job in expired {
            let owner = job.lease_owner.clone().unwrap_or_default();
            if job.claimed_ahead {
                // Claimed ahead and never started: back to the queue, no attempt, no error.
                rescued += q(
                    "rescue_unstarted",
                    "UPDATE jobs SET state = 'available', claimed_ahead = FALSE, lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $1 AND state = 'running' AND claimed_ahead AND lease_owner = $2 AND lease_expires_at < $3",
                )
                .bind(job.id.as_str())
                .bind(&owner)
                .bind(now)
                .execute(&self.primary(SUBJECT))
                .await?;
                continue;
            }
            let cast = match self.db {
                Db::Postgres(_) => "$1::jsonb",
                Db::Sqlite(_) => "$1",
            };
            // Progress since the attempt started: back to the queue, the attempt not counted
            // (the handler resumes from what it committed); the crash is still on record.
            let mut errors = job.errors.clone();
            errors.push(AttemptError {
                attempt: job.attempt,
                at: now,
                error: format!(
                    "lease expired: worker `{owner}` stopped heartbeating after the job progressed (to {}%); resumed without counting the attempt",
                    job.progress
                ),
            });
            let sql = format!(
                "UPDATE jobs SET state = 'available', attempt = attempt - 1, errors = {cast}, lease_owner = NULL, \
                 lease_expires_at = NULL WHERE id = $2 AND state = 'running' AND lease_owner = $3 AND lease_expires_at < $4 \
                 AND progress > progress_at_start"
            );
            let resumed = q_built(
                "rescue_progressed",
                "UPDATE jobs … (rescue after progress)",
                sql,
            )
            .bind(serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into()))
            .bind(job.id.as_str())
            .bind(&owner)
            .bind(now)
            .execute(&self.primary(SUBJECT))
            .await?;
            if resumed > 0 {
                rescued += resumed;
                continue;
            }
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
            rescued += q_built("rescue", "UPDATE jobs … (rescue)", sql)
                .bind(state)
                .bind(at)
                .bind(&errors)
                .bind(finished)
                .bind(job.id.as_str())
                .bind(&owner)
                .bind(now)
                .execute(&self.primary(SUBJECT))
                .await?;
        }
        if rescued > 0 {
            self.notify_workers().await;
        }
        Ok(rescued)
    }
}
