//! The storage a schedule needs (conea-store implements it on SQLite and PostgreSQL).

use crate::model::{Firing, RunState, Schedule};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use conea_core::ids::{OrgId, ScheduleId};
use conea_core::store::StoreResult;
use conea_jobs::NewJob;

#[async_trait]
pub trait ScheduleStore: Send + Sync + 'static {
    async fn insert_schedule(&self, s: &Schedule) -> StoreResult<()>;
    async fn get_schedule(&self, id: &ScheduleId) -> StoreResult<Option<Schedule>>;
    /// The organization's schedules in id (creation) order, after the cursor id.
    async fn list_schedules(
        &self,
        org: &OrgId,
        after: Option<&ScheduleId>,
        limit: u32,
    ) -> StoreResult<Vec<Schedule>>;
    /// Writes the definition (report, params, cron, zone, destinations, enabled) and
    /// `next_slot_at`; false when it no longer exists.
    async fn update_schedule(&self, s: &Schedule) -> StoreResult<bool>;
    async fn delete_schedule(&self, id: &ScheduleId) -> StoreResult<bool>;
    /// Enabled schedules whose next slot is at or before `now`, oldest slot first.
    async fn due_schedules(&self, now: EpochMs, limit: u32) -> StoreResult<Vec<Schedule>>;
    /// In one transaction: moves the schedule on (only while its `next_slot_at` is still
    /// `firing.expected`) and inserts the run job. False when another replica fired it.
    async fn fire(&self, firing: &Firing, job: &NewJob, now: EpochMs) -> StoreResult<bool>;
    /// Records the latest run's state (runs of an older slot do not overwrite a newer one's).
    async fn record_run(&self, id: &ScheduleId, run: &RunState) -> StoreResult<()>;
}
