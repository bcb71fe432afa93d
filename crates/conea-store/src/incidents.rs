//! `IncidentStore` on SQL: incidents (one unresolved incident per dedup key, by a partial
//! unique index), their timelines (a step recorded at most once, by a partial unique index),
//! and used link nonces. Recording a step and enqueuing its delivery jobs is one
//! transaction, so a step is neither lost nor repeated across restarts.

use crate::jobs::bind_new_job;
use crate::query::{q, q_built, Tx};
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{IncidentId, JobId, OrgId};
use conea_core::store::{StoreError, StoreResult};
use conea_incidents::store::{
    Entry, Incident, IncidentFilter, IncidentStore, NewIncident, Opened, PendingJob, Status,
    StepGuard,
};
use conea_incidents::Severity;
use conea_jobs::NewJob;
use serde_json::Value;
use sqlx::types::Json;

const SUBJECT: &str = "incident";

/// Adds one entry to an incident's timeline.
const TIMELINE: &str =
    "INSERT INTO incident_timeline (incident_id, at, kind, step, data) VALUES ($1, $2, $3, $4, $5)";

const COLUMNS: &str = "id, organization_id, title, severity, status, source, dedup_key, summary, details, \
    repeat_count, severity_since, opened_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    organization_id: String,
    title: String,
    severity: String,
    status: String,
    source: String,
    dedup_key: String,
    summary: String,
    details: Json<Value>,
    repeat_count: i64,
    severity_since: i64,
    opened_at: i64,
    acknowledged_at: Option<i64>,
    acknowledged_by: Option<String>,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
}

impl Row {
    fn into_incident(self) -> StoreResult<Incident> {
        let bad = |what: &str| StoreError::Other(format!("corrupt incident row: {what}"));
        Ok(Incident {
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization_id"))?,
            severity: self
                .severity
                .parse::<Severity>()
                .map_err(|_| bad("severity"))?,
            status: self.status.parse::<Status>().map_err(|_| bad("status"))?,
            id: IncidentId::parse(&self.id).map_err(|_| bad("id"))?,
            title: self.title,
            source: self.source,
            dedup_key: self.dedup_key,
            summary: self.summary,
            details: self.details.0,
            repeat_count: self.repeat_count,
            severity_since: self.severity_since,
            opened_at: self.opened_at,
            acknowledged_at: self.acknowledged_at,
            acknowledged_by: self.acknowledged_by,
            resolved_at: self.resolved_at,
            resolved_by: self.resolved_by,
        })
    }
}

fn one(row: Option<Row>) -> StoreResult<Option<Incident>> {
    row.map(Row::into_incident).transpose()
}

impl SqlStore {
    async fn incident_update(
        &self,
        name: &'static str,
        sql: String,
        id: &IncidentId,
        text: Option<&str>,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let row = q_built(name, "UPDATE incidents …", sql)
            .bind(id.as_str())
            .bind(text)
            .bind(at)
            .fetch_optional::<Row>(&self.primary(SUBJECT))
            .await?;
        one(row)
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn open(&self, new: &NewIncident, entry: &Entry, repeat: &Entry) -> StoreResult<Opened> {
        let insert = format!(
            "INSERT INTO incidents (id, organization_id, title, severity, status, source, dedup_key, summary, details, \
             repeat_count, severity_since, opened_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, 1, $9, $9, $9) \
             ON CONFLICT (organization_id, dedup_key) WHERE status <> 'resolved' DO NOTHING \
             RETURNING {COLUMNS}"
        );
        let bump = format!(
            "UPDATE incidents SET repeat_count = repeat_count + 1, updated_at = $3 \
             WHERE organization_id = $1 AND dedup_key = $2 AND status <> 'resolved' RETURNING {COLUMNS}"
        );
        // A concurrent resolve can free the dedup key between the two statements: try again.
        for _ in 0..3 {
            let db = self.primary(SUBJECT);
            let result = db
                .timed("open_incident", "INSERT INTO incidents …", async {
                    let mut tx = db.begin().await?;
                    let inserted = q_built("open_incident", "", insert.as_str())
                        .bind(new.id.as_str())
                        .bind(new.org_id.as_str())
                        .bind(&new.title)
                        .bind(new.severity.as_str())
                        .bind(&new.source)
                        .bind(&new.dedup_key)
                        .bind(&new.summary)
                        .bind_json(&new.details)
                        .bind(entry.at)
                        .fetch_optional_in::<Row>(&mut tx)
                        .await?;
                    let (row, created, e) = match inserted {
                        Some(r) => (Some(r), true, entry),
                        None => (
                            q_built("open_incident", "", bump.as_str())
                                .bind(new.org_id.as_str())
                                .bind(&new.dedup_key)
                                .bind(repeat.at)
                                .fetch_optional_in::<Row>(&mut tx)
                                .await?,
                            false,
                            repeat,
                        ),
                    };
                    let Some(row) = row else {
                        tx.rollback().await?;
                        return Ok(None);
                    };
                    let mut e = e.clone();
                    if !created {
                        e.message = format!("{} (report #{})", e.message, row.repeat_count);
                    }
                    q("open_incident", TIMELINE)
                        .bind(&row.id)
                        .bind(e.at)
                        .bind(kind_text(&e))
                        .bind(e.step.as_deref())
                        .bind_json(&e)
                        .execute_in(&mut tx)
                        .await?;
                    tx.commit().await?;
                    Ok(Some((row, created)))
                })
                .await?;
            if let Some((row, created)) = result {
                return Ok(Opened {
                    incident: row.into_incident()?,
                    created,
                });
            }
        }
        Err(StoreError::Other(
            "the incident's dedup key kept changing state; try again".into(),
        ))
    }

    async fn get(&self, org: &OrgId, id: &IncidentId) -> StoreResult<Option<Incident>> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1 AND organization_id = $2");
        let row = q_built("get_incident", "SELECT … FROM incidents WHERE id", sql)
            .bind(id.as_str())
            .bind(org.as_str())
            .fetch_optional::<Row>(&self.primary(SUBJECT))
            .await?;
        one(row)
    }

    async fn get_any(&self, id: &IncidentId) -> StoreResult<Option<Incident>> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1");
        let row = q_built("get_incident", "SELECT … FROM incidents WHERE id", sql)
            .bind(id.as_str())
            .fetch_optional::<Row>(&self.primary(SUBJECT))
            .await?;
        one(row)
    }

    async fn find_unresolved(&self, org: &OrgId, dedup_key: &str) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE organization_id = $1 AND dedup_key = $2 AND status <> 'resolved'"
        );
        let row = q_built(
            "find_unresolved_incident",
            "SELECT … FROM incidents WHERE dedup_key",
            sql,
        )
        .bind(org.as_str())
        .bind(dedup_key)
        .fetch_optional::<Row>(&self.primary(SUBJECT))
        .await?;
        one(row)
    }

    async fn list(&self, org: &OrgId, filter: &IncidentFilter) -> StoreResult<Vec<Incident>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE organization_id = $1 \
             AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR severity = $3) \
             ORDER BY opened_at DESC, id DESC LIMIT $4"
        );
        let status = filter.status.map(|s| s.as_str().to_owned());
        let severity = filter.severity.map(|s| s.as_str().to_owned());
        let limit = i64::from(filter.limit.clamp(1, 1000));
        let rows = q_built(
            "list_incidents",
            "SELECT … FROM incidents WHERE organization_id",
            sql,
        )
        .bind(org.as_str())
        .bind(status)
        .bind(severity)
        .bind(limit)
        .fetch_all::<Row>(&self.primary(SUBJECT))
        .await?;
        rows.into_iter().map(Row::into_incident).collect()
    }

    async fn timeline(&self, id: &IncidentId) -> StoreResult<Vec<Entry>> {
        const SQL: &str =
            "SELECT data FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id";
        let rows: Vec<(Json<Entry>,)> = q("incident_timeline", SQL)
            .bind(id.as_str())
            .fetch_all(&self.primary("incident timeline"))
            .await?;
        Ok(rows.into_iter().map(|(j,)| j.0).collect())
    }

    async fn append(&self, id: &IncidentId, entry: &Entry) -> StoreResult<()> {
        q("append_incident_timeline", TIMELINE)
            .bind(id.as_str())
            .bind(entry.at)
            .bind(kind_text(entry))
            .bind(entry.step.as_deref())
            .bind_json(entry)
            .execute(&self.primary("incident timeline"))
            .await
            .map(drop)
    }

    async fn acknowledge(
        &self,
        id: &IncidentId,
        by: &str,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'open' RETURNING {COLUMNS}"
        );
        self.incident_update("acknowledge_incident", sql, id, Some(by), at)
            .await
    }

    async fn resolve(
        &self,
        id: &IncidentId,
        by: &str,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET status = 'resolved', resolved_at = $3, resolved_by = $2, updated_at = $3 \
             WHERE id = $1 AND status <> 'resolved' RETURNING {COLUMNS}"
        );
        self.incident_update("resolve_incident", sql, id, Some(by), at)
            .await
    }

    async fn set_severity(
        &self,
        id: &IncidentId,
        severity: Severity,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET severity = $2, severity_since = $3, updated_at = $3 \
             WHERE id = $1 AND status <> 'resolved' RETURNING {COLUMNS}"
        );
        self.incident_update(
            "set_incident_severity",
            sql,
            id,
            Some(severity.as_str()),
            at,
        )
        .await
    }

    async fn record_step(
        &self,
        id: &IncidentId,
        entry: &Entry,
        jobs: &[NewJob],
        guard: StepGuard,
    ) -> StoreResult<bool> {
        // Recorded only while the incident's status allows the step; on PostgreSQL the row
        // is locked first, so an acknowledge committing meanwhile is either before (the step
        // is not recorded) or after (it waits for this transaction). SQLite serializes writers.
        let timeline = format!(
            "INSERT INTO incident_timeline (incident_id, at, kind, step, data) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
             (SELECT 1 FROM incidents WHERE id = $1 AND status IN {}) \
             ON CONFLICT (incident_id, step) WHERE step IS NOT NULL DO NOTHING",
            guard.statuses_sql()
        );
        let timeline = timeline.as_str();
        let insert_job = crate::jobs::insert_job_sql();
        let db = self.primary("incident step");
        let recorded = db
            .timed(
                "record_incident_step",
                "INSERT INTO incident_timeline … WHERE EXISTS (incident status) + job inserts",
                async {
                    let mut tx = db.begin().await?;
                    if let Tx::Pg(_) = tx {
                        q(
                            "record_incident_step",
                            "SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE",
                        )
                        .bind(id.as_str())
                        .execute_in(&mut tx)
                        .await?;
                    }
                    let n = q_built("record_incident_step", "", timeline)
                        .bind(id.as_str())
                        .bind(entry.at)
                        .bind(kind_text(entry))
                        .bind(entry.step.as_deref())
                        .bind_json(entry)
                        .execute_in(&mut tx)
                        .await?;
                    if n == 0 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    for job in jobs {
                        let id = JobId::generate();
                        bind_new_job(
                            q_built("enqueue", "", insert_job.as_str()),
                            &id,
                            job,
                            entry.at,
                        )
                        .execute_in(&mut tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                },
            )
            .await?;
        if recorded && !jobs.is_empty() {
            self.notify_workers().await;
        }
        Ok(recorded)
    }

    async fn pending_jobs(&self, key_prefix: &str) -> StoreResult<Vec<PendingJob>> {
        let sql = format!(
            "SELECT id, kind, args FROM jobs WHERE unique_key LIKE $1 ESCAPE '\\' AND state IN {}",
            crate::jobs::LIVE
        );
        let pattern = format!(
            "{}%",
            key_prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<(String, String, Json<Value>)> = q_built(
            "pending_incident_jobs",
            "SELECT … FROM jobs WHERE unique_key LIKE",
            sql,
        )
        .bind(&pattern)
        .fetch_all(&self.primary("job"))
        .await?;
        rows.into_iter()
            .map(|(id, kind, args)| {
                Ok(PendingJob {
                    job_id: JobId::parse(&id)
                        .map_err(|_| StoreError::Other("corrupt job row: id".into()))?,
                    kind,
                    args: args.0,
                })
            })
            .collect()
    }

    async fn use_nonce(&self, nonce: &str, expires_at: EpochMs, now: EpochMs) -> StoreResult<bool> {
        const SQL: &str =
            "INSERT INTO incident_link_nonces (nonce, expires_at, used_at) VALUES ($1, $2, $3) \
             ON CONFLICT (nonce) DO NOTHING";
        q("use_link_nonce", SQL)
            .bind(nonce)
            .bind(expires_at)
            .bind(now)
            .execute(&self.primary("link nonce"))
            .await
            .map(|n| n == 1)
    }

    async fn prune_nonces(&self, before: EpochMs) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM incident_link_nonces WHERE expires_at < $1";
        q("prune_link_nonces", SQL)
            .bind(before)
            .execute(&self.primary("link nonce"))
            .await
    }
}

fn kind_text(e: &Entry) -> String {
    serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
