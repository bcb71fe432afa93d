//! `ScheduleStore` on SQL (migration 0012). A slot fires in one transaction: the schedule's
//! `next_slot_at` moves on only from the value the ticking replica read (a compare-and-set:
//! PostgreSQL's row lock makes a concurrent tick re-check the condition and update nothing;
//! SQLite has one writer), and the run job is inserted with the job store's own statement.

use crate::jobs::{bind_new_job, insert_job_sql};
use crate::query::{q, q_built};
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ScheduleId};
use conea_core::store::{StoreError, StoreResult};
use conea_jobs::NewJob;
use conea_schedules::model::{Destination, Firing, Language, RunState, Schedule, ScheduleReport};
use conea_schedules::ScheduleStore;

const SUBJECT: &str = "schedule";

const COLUMNS: &str = "id, organization_id, report, params, cron, timezone, deliver, enabled, \
    webhook_secret, created_at, updated_at, next_slot_at, last_slot_at, skipped_slots, \
    last_skipped_slot_at, last_run, language";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    organization_id: String,
    report: String,
    params: String,
    cron: String,
    timezone: String,
    deliver: String,
    enabled: bool,
    webhook_secret: String,
    created_at: i64,
    updated_at: i64,
    next_slot_at: Option<i64>,
    last_slot_at: Option<i64>,
    skipped_slots: i64,
    last_skipped_slot_at: Option<i64>,
    last_run: Option<String>,
    language: String,
}

impl Row {
    fn into_schedule(self) -> StoreResult<Schedule> {
        let bad = |what: &str| StoreError::Other(format!("corrupt schedule row: {what}"));
        Ok(Schedule {
            id: ScheduleId::parse(&self.id).map_err(|_| bad("id"))?,
            org_id: OrgId::parse(&self.organization_id).map_err(|_| bad("organization_id"))?,
            report: ScheduleReport::parse(&self.report).ok_or_else(|| bad("report"))?,
            params: serde_json::from_str(&self.params).map_err(|_| bad("params"))?,
            language: Language::parse(&self.language).ok_or_else(|| bad("language"))?,
            cron: self.cron,
            timezone: self.timezone,
            deliver: serde_json::from_str::<Vec<Destination>>(&self.deliver)
                .map_err(|_| bad("deliver"))?,
            enabled: self.enabled,
            webhook_secret_sealed: self.webhook_secret,
            created_at: self.created_at,
            updated_at: self.updated_at,
            next_slot_at: self.next_slot_at,
            last_slot_at: self.last_slot_at,
            skipped_slots: self.skipped_slots,
            last_skipped_slot_at: self.last_skipped_slot_at,
            last_run: match self.last_run {
                Some(t) => Some(serde_json::from_str(&t).map_err(|_| bad("last_run"))?),
                None => None,
            },
        })
    }
}

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

fn all(rows: Vec<Row>) -> StoreResult<Vec<Schedule>> {
    rows.into_iter().map(Row::into_schedule).collect()
}

#[async_trait]
impl ScheduleStore for SqlStore {
    async fn insert_schedule(&self, s: &Schedule) -> StoreResult<()> {
        q(
            "insert_schedule",
            "INSERT INTO report_schedules (id, organization_id, report, params, cron, timezone, deliver, \
             enabled, webhook_secret, created_at, updated_at, next_slot_at, skipped_slots, language) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13)",
        )
        .bind(s.id.as_str())
        .bind(s.org_id.as_str())
        .bind(s.report.as_str())
        .bind(json(&s.params)?)
        .bind(s.cron.as_str())
        .bind(s.timezone.as_str())
        .bind(json(&s.deliver)?)
        .bind(s.enabled)
        .bind(s.webhook_secret_sealed.as_str())
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.next_slot_at)
        .bind(s.language.as_str())
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(())
    }

    async fn get_schedule(&self, id: &ScheduleId) -> StoreResult<Option<Schedule>> {
        let sql = format!("SELECT {COLUMNS} FROM report_schedules WHERE id = $1");
        q_built(
            "get_schedule",
            "SELECT … FROM report_schedules WHERE id",
            sql,
        )
        .bind(id.as_str())
        .fetch_optional::<Row>(&self.primary(SUBJECT))
        .await?
        .map(Row::into_schedule)
        .transpose()
    }

    async fn list_schedules(
        &self,
        org: &OrgId,
        after: Option<&ScheduleId>,
        limit: u32,
    ) -> StoreResult<Vec<Schedule>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM report_schedules WHERE organization_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows = q_built(
            "list_schedules",
            "SELECT … FROM report_schedules WHERE organization_id",
            sql,
        )
        .bind(org.as_str())
        .bind(after.map(ScheduleId::as_str).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all::<Row>(&self.primary(SUBJECT))
        .await?;
        all(rows)
    }

    async fn update_schedule(&self, s: &Schedule) -> StoreResult<bool> {
        let n = q(
            "update_schedule",
            "UPDATE report_schedules SET report = $2, params = $3, cron = $4, timezone = $5, \
             deliver = $6, enabled = $7, updated_at = $8, next_slot_at = $9, language = $10 \
             WHERE id = $1",
        )
        .bind(s.id.as_str())
        .bind(s.report.as_str())
        .bind(json(&s.params)?)
        .bind(s.cron.as_str())
        .bind(s.timezone.as_str())
        .bind(json(&s.deliver)?)
        .bind(s.enabled)
        .bind(s.updated_at)
        .bind(s.next_slot_at)
        .bind(s.language.as_str())
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(n > 0)
    }

    async fn delete_schedule(&self, id: &ScheduleId) -> StoreResult<bool> {
        let n = q(
            "delete_schedule",
            "DELETE FROM report_schedules WHERE id = $1",
        )
        .bind(id.as_str())
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(n > 0)
    }

    async fn due_schedules(&self, now: EpochMs, limit: u32) -> StoreResult<Vec<Schedule>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM report_schedules WHERE enabled AND next_slot_at <= $1 \
             ORDER BY next_slot_at LIMIT $2"
        );
        let rows = q_built(
            "due_schedules",
            "SELECT … FROM report_schedules WHERE enabled AND next_slot_at <= $1",
            sql,
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all::<Row>(&self.primary(SUBJECT))
        .await?;
        all(rows)
    }

    async fn fire(&self, f: &Firing, job: &NewJob, now: EpochMs) -> StoreResult<bool> {
        let insert_job = insert_job_sql();
        let db = self.primary(SUBJECT);
        let fired = db
            .timed(
                "fire_schedule",
                "UPDATE report_schedules SET next_slot_at … WHERE next_slot_at = $expected + job insert",
                async {
                    let mut tx = db.begin().await?;
                    let moved = q(
                        "fire_schedule",
                        "UPDATE report_schedules SET next_slot_at = $3, last_slot_at = $4, \
                         skipped_slots = skipped_slots + $5, \
                         last_skipped_slot_at = COALESCE($6, last_skipped_slot_at) \
                         WHERE id = $1 AND enabled AND next_slot_at = $2",
                    )
                    .bind(f.schedule.as_str())
                    .bind(f.expected)
                    .bind(f.next)
                    .bind(f.slot)
                    .bind(f.skipped)
                    .bind(f.last_skipped)
                    .execute_in(&mut tx)
                    .await?;
                    if moved == 0 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    bind_new_job(
                        q_built("enqueue", "", insert_job.as_str()),
                        &f.job_id,
                        job,
                        now,
                    )
                    .execute_in(&mut tx)
                    .await?;
                    tx.commit().await?;
                    Ok(true)
                },
            )
            .await?;
        if fired {
            self.notify_workers().await;
        }
        Ok(fired)
    }

    async fn record_run(&self, id: &ScheduleId, run: &RunState) -> StoreResult<()> {
        q(
            "record_schedule_run",
            "UPDATE report_schedules SET last_run = $2 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(json(run)?)
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(())
    }
}
