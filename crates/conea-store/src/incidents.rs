//! `IncidentStore` on SQL: incidents (one unresolved incident per dedup key, by a partial
//! unique index), their timelines (a step recorded at most once, by a partial unique index),
//! and used link nonces. Recording a step and enqueuing its delivery jobs is one
//! transaction, so a step is neither lost nor repeated across restarts.

use crate::errors::map;
use crate::{with_pool, SqlStore};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId};
use conea_core::store::{StoreError, StoreResult};
use conea_incidents::store::{
    Entry, Incident, IncidentFilter, IncidentStore, NewIncident, Opened, PendingJob, Status,
    StepGuard,
};
use conea_incidents::Severity;
use conea_jobs::NewJob;
use serde_json::Value;
use sqlx::types::Json;

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
            id: self.id,
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
        sql: &str,
        id: &str,
        text: Option<&str>,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let row = self
            .stats
            .time(name, "UPDATE incidents …", async {
                with_pool!(&self.db, |p| sqlx::query_as::<DB, Row>(sql)
                    .bind(id)
                    .bind(text)
                    .bind(at)
                    .fetch_optional(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "incident"))?;
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
        let timeline = "INSERT INTO incident_timeline (incident_id, at, kind, step, data) VALUES ($1, $2, $3, $4, $5)";
        // A concurrent resolve can free the dedup key between the two statements: try again.
        for _ in 0..3 {
            let result: Result<Option<(Row, bool)>, sqlx::Error> = self
                .stats
                .time("open_incident", "INSERT INTO incidents …", async {
                    with_pool!(&self.db, |p| {
                        let mut tx = p.begin().await?;
                        let inserted = sqlx::query_as::<DB, Row>(&insert)
                            .bind(&new.id)
                            .bind(new.org_id.as_str())
                            .bind(&new.title)
                            .bind(new.severity.as_str())
                            .bind(&new.source)
                            .bind(&new.dedup_key)
                            .bind(&new.summary)
                            .bind(Json(&new.details))
                            .bind(entry.at)
                            .fetch_optional(&mut *tx)
                            .await?;
                        let (row, created, e) = match inserted {
                            Some(r) => (Some(r), true, entry),
                            None => (
                                sqlx::query_as::<DB, Row>(&bump)
                                    .bind(new.org_id.as_str())
                                    .bind(&new.dedup_key)
                                    .bind(repeat.at)
                                    .fetch_optional(&mut *tx)
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
                        sqlx::query::<DB>(timeline)
                            .bind(&row.id)
                            .bind(e.at)
                            .bind(kind_text(&e))
                            .bind(e.step.as_deref())
                            .bind(Json(&e))
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(Some((row, created)))
                    })
                })
                .await;
            if let Some((row, created)) = result.map_err(|e| map(e, "incident"))? {
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

    async fn get(&self, org: &OrgId, id: &str) -> StoreResult<Option<Incident>> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1 AND organization_id = $2");
        let row = self
            .stats
            .time("get_incident", "SELECT … FROM incidents WHERE id", async {
                with_pool!(&self.db, |p| sqlx::query_as::<DB, Row>(&sql)
                    .bind(id)
                    .bind(org.as_str())
                    .fetch_optional(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "incident"))?;
        one(row)
    }

    async fn get_any(&self, id: &str) -> StoreResult<Option<Incident>> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = $1");
        let row = self
            .stats
            .time("get_incident", "SELECT … FROM incidents WHERE id", async {
                with_pool!(&self.db, |p| sqlx::query_as::<DB, Row>(&sql)
                    .bind(id)
                    .fetch_optional(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "incident"))?;
        one(row)
    }

    async fn find_unresolved(&self, org: &OrgId, dedup_key: &str) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE organization_id = $1 AND dedup_key = $2 AND status <> 'resolved'"
        );
        let row = self
            .stats
            .time(
                "find_unresolved_incident",
                "SELECT … FROM incidents WHERE dedup_key",
                async {
                    with_pool!(&self.db, |p| sqlx::query_as::<DB, Row>(&sql)
                        .bind(org.as_str())
                        .bind(dedup_key)
                        .fetch_optional(p)
                        .await)
                },
            )
            .await
            .map_err(|e| map(e, "incident"))?;
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
        let rows = self
            .stats
            .time(
                "list_incidents",
                "SELECT … FROM incidents WHERE organization_id",
                async {
                    with_pool!(&self.db, |p| sqlx::query_as::<DB, Row>(&sql)
                        .bind(org.as_str())
                        .bind(status.clone())
                        .bind(severity.clone())
                        .bind(limit)
                        .fetch_all(p)
                        .await)
                },
            )
            .await
            .map_err(|e| map(e, "incident"))?;
        rows.into_iter().map(Row::into_incident).collect()
    }

    async fn timeline(&self, id: &str) -> StoreResult<Vec<Entry>> {
        const SQL: &str =
            "SELECT data FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id";
        let rows: Vec<Json<Entry>> = self
            .stats
            .time("incident_timeline", SQL, async {
                with_pool!(&self.db, |p| sqlx::query_scalar::<DB, Json<Entry>>(SQL)
                    .bind(id)
                    .fetch_all(p)
                    .await)
            })
            .await
            .map_err(|e| map(e, "incident timeline"))?;
        Ok(rows.into_iter().map(|j| j.0).collect())
    }

    async fn append(&self, id: &str, entry: &Entry) -> StoreResult<()> {
        const SQL: &str = "INSERT INTO incident_timeline (incident_id, at, kind, step, data) VALUES ($1, $2, $3, $4, $5)";
        self.stats
            .time("append_incident_timeline", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(id)
                    .bind(entry.at)
                    .bind(kind_text(entry))
                    .bind(entry.step.as_deref())
                    .bind(Json(entry))
                    .execute(p)
                    .await
                    .map(drop))
            })
            .await
            .map_err(|e| map(e, "incident timeline"))
    }

    async fn acknowledge(&self, id: &str, by: &str, at: EpochMs) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'open' RETURNING {COLUMNS}"
        );
        self.incident_update("acknowledge_incident", &sql, id, Some(by), at)
            .await
    }

    async fn resolve(&self, id: &str, by: &str, at: EpochMs) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET status = 'resolved', resolved_at = $3, resolved_by = $2, updated_at = $3 \
             WHERE id = $1 AND status <> 'resolved' RETURNING {COLUMNS}"
        );
        self.incident_update("resolve_incident", &sql, id, Some(by), at)
            .await
    }

    async fn set_severity(
        &self,
        id: &str,
        severity: Severity,
        at: EpochMs,
    ) -> StoreResult<Option<Incident>> {
        let sql = format!(
            "UPDATE incidents SET severity = $2, severity_since = $3, updated_at = $3 \
             WHERE id = $1 AND status <> 'resolved' RETURNING {COLUMNS}"
        );
        self.incident_update(
            "set_incident_severity",
            &sql,
            id,
            Some(severity.as_str()),
            at,
        )
        .await
    }

    async fn record_step(
        &self,
        id: &str,
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
        let recorded = self
            .stats
            .time(
                "record_incident_step",
                "INSERT INTO incident_timeline … WHERE EXISTS (incident status) + job inserts",
                async {
                    with_pool!(&self.db, |p| {
                        let mut tx = p.begin().await?;
                        if matches!(self.db, crate::Db::Postgres(_)) {
                            sqlx::query::<DB>("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE")
                                .bind(id)
                                .execute(&mut *tx)
                                .await?;
                        }
                        let n = sqlx::query::<DB>(timeline)
                            .bind(id)
                            .bind(entry.at)
                            .bind(kind_text(entry))
                            .bind(entry.step.as_deref())
                            .bind(Json(entry))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if n == 0 {
                            tx.rollback().await?;
                            return Ok::<bool, sqlx::Error>(false);
                        }
                        for job in jobs {
                            let id = JobId::generate();
                            crate::jobs::bind_new_job!(
                                sqlx::query::<DB>(&insert_job),
                                id,
                                job,
                                entry.at
                            )
                            .execute(&mut *tx)
                            .await?;
                        }
                        tx.commit().await?;
                        Ok(true)
                    })
                },
            )
            .await
            .map_err(|e| map(e, "incident step"))?;
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
        let rows: Vec<(String, String, Json<Value>)> = self
            .stats
            .time(
                "pending_incident_jobs",
                "SELECT … FROM jobs WHERE unique_key LIKE",
                async {
                    with_pool!(&self.db, |p| sqlx::query_as::<
                        DB,
                        (String, String, Json<Value>),
                    >(&sql)
                    .bind(&pattern)
                    .fetch_all(p)
                    .await)
                },
            )
            .await
            .map_err(|e| map(e, "job"))?;
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
        self.stats
            .time("use_link_nonce", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(nonce)
                    .bind(expires_at)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected() == 1))
            })
            .await
            .map_err(|e| map(e, "link nonce"))
    }

    async fn prune_nonces(&self, before: EpochMs) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM incident_link_nonces WHERE expires_at < $1";
        self.stats
            .time("prune_link_nonces", SQL, async {
                with_pool!(&self.db, |p| sqlx::query::<DB>(SQL)
                    .bind(before)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected()))
            })
            .await
            .map_err(|e| map(e, "link nonce"))
    }
}

fn kind_text(e: &Entry) -> String {
    serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
