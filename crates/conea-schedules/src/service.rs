//! `SchedulesService`: create, read, list, change, delete and run-now ([data:write] to
//! change, [data:read] to see; another organization's schedule is not found), and the
//! scheduler [`tick`](SchedulesService::tick) that every replica runs.

use crate::cron::CronSpec;
use crate::job::{RunArgs, RunJob};
use crate::model::{secret_context, Firing, Schedule};
use crate::store::ScheduleStore;
use crate::validate::{self, ScheduleDraft};
use conea_core::clock::{Clock, EpochMs};
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::{JobId, ScheduleId};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::secretbox::SecretBox;
use conea_incidents::policy::WebhookSecret;
use conea_jobs::service::JobService;
use conea_jobs::{Job, NewJob};
use rand::RngCore;
use std::sync::Arc;

/// How many upcoming slots a schedule shows.
pub const NEXT_RUNS: usize = 5;
/// Schedules fired per tick at most (the rest on the next tick).
pub const TICK_BATCH: u32 = 100;
/// Missed slots counted at most after a long downtime.
pub const MAX_COUNTED_SKIPS: u64 = 100_000;

/// A schedule with its next slots (RFC 3339 in its own time zone).
#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub schedule: Schedule,
    pub next_runs: Vec<String>,
    pub spec: Option<CronSpec>,
}

impl ScheduleView {
    /// An instant as RFC 3339 with the schedule zone's offset.
    pub fn local(&self, ms: EpochMs) -> String {
        match &self.spec {
            Some(s) => s.format(ms),
            None => conea_core::clock::rfc3339(ms),
        }
    }
}

/// A new schedule and its webhook signing secret, shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    pub view: ScheduleView,
    pub webhook_secret: String,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickOutcome {
    /// Slots this replica enqueued a run for.
    pub fired: usize,
    /// Due schedules another replica fired first.
    pub lost: usize,
}

/// The firing of a due schedule at `now`: the latest slot at or before `now` runs, the
/// earlier missed ones are counted as skipped, the next slot is the first after `now`.
pub fn plan(s: &Schedule, spec: &CronSpec, now: EpochMs) -> Option<Firing> {
    let expected = s.next_slot_at?;
    if !s.enabled || expected > now {
        return None;
    }
    let slot = spec
        .latest_at_or_before(now)
        .filter(|&l| l >= expected)
        .unwrap_or(expected);
    let skipped = if slot > expected {
        spec.count_between(expected, slot, MAX_COUNTED_SKIPS) as i64
    } else {
        0
    };
    let last_skipped = if skipped > 0 {
        spec.latest_at_or_before(slot - 1)
    } else {
        None
    };
    Some(Firing {
        schedule: s.id.clone(),
        expected,
        slot,
        skipped,
        last_skipped,
        next: spec.next_after(now.max(slot)),
        job_id: JobId::generate(),
    })
}

pub struct SchedulesService {
    store: Arc<dyn ScheduleStore>,
    jobs: Arc<JobService>,
    clock: Arc<dyn Clock>,
    secrets: SecretBox,
    email_configured: bool,
}

impl SchedulesService {
    pub fn new(
        store: Arc<dyn ScheduleStore>,
        jobs: Arc<JobService>,
        clock: Arc<dyn Clock>,
        secrets: SecretBox,
        email_configured: bool,
    ) -> Self {
        SchedulesService {
            store,
            jobs,
            clock,
            secrets,
            email_configured,
        }
    }

    fn view(&self, schedule: Schedule) -> ScheduleView {
        let spec = CronSpec::parse(&schedule.cron, &schedule.timezone).ok();
        let next_runs = match (&spec, schedule.enabled) {
            (Some(s), true) => s
                .upcoming(self.clock.now_ms(), NEXT_RUNS)
                .into_iter()
                .map(|ms| s.format(ms))
                .collect(),
            _ => Vec::new(),
        };
        ScheduleView {
            schedule,
            next_runs,
            spec,
        }
    }

    async fn visible(&self, by: &Principal, id: &str) -> CoreResult<Schedule> {
        let sid = ScheduleId::parse(id).map_err(|_| CoreError::not_found("schedule", id))?;
        match self.store.get_schedule(&sid).await? {
            Some(s) if by.can_see_org(&s.org_id) => Ok(s),
            _ => Err(CoreError::not_found("schedule", id)),
        }
    }

    pub async fn create(&self, by: &Principal, draft: &ScheduleDraft) -> CoreResult<Created> {
        by.require(Permission::DataWrite)?;
        let now = self.clock.now_ms();
        let d = validate::definition(draft, self.email_configured, now)?;
        let id = ScheduleId::generate();
        let mut key = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let secret = WebhookSecret::from_bytes(key).to_text();
        let schedule = Schedule {
            webhook_secret_sealed: self.secrets.encrypt(&secret_context(&id), &secret),
            id,
            org_id: by.org_id.clone(),
            report: d.report,
            params: d.params,
            language: d.language,
            next_slot_at: if d.enabled {
                d.spec.next_after(now)
            } else {
                None
            },
            cron: d.cron,
            timezone: d.timezone,
            deliver: d.deliver,
            enabled: d.enabled,
            created_at: now,
            updated_at: now,
            last_slot_at: None,
            skipped_slots: 0,
            last_skipped_slot_at: None,
            last_run: None,
        };
        self.store.insert_schedule(&schedule).await?;
        Ok(Created {
            view: self.view(schedule),
            webhook_secret: secret,
        })
    }

    pub async fn get(&self, by: &Principal, id: &str) -> CoreResult<ScheduleView> {
        by.require(Permission::DataRead)?;
        Ok(self.view(self.visible(by, id).await?))
    }

    /// The organization's schedules in creation order, after the `cursor` id.
    pub async fn list(
        &self,
        by: &Principal,
        cursor: Option<&str>,
        limit: u32,
    ) -> CoreResult<Vec<ScheduleView>> {
        by.require(Permission::DataRead)?;
        let after = cursor
            .map(|c| {
                ScheduleId::parse(c).map_err(|_| {
                    CoreError::invalid("cursor", "`cursor` does not come from this list.")
                })
            })
            .transpose()?;
        let list = self
            .store
            .list_schedules(&by.org_id, after.as_ref(), limit)
            .await?;
        Ok(list.into_iter().map(|s| self.view(s)).collect())
    }

    /// Replaces the given fields. A changed cron or zone, or enabling, starts counting slots
    /// from now: the time a schedule was disabled is not caught up.
    pub async fn patch(
        &self,
        by: &Principal,
        id: &str,
        patch: &ScheduleDraft,
    ) -> CoreResult<ScheduleView> {
        by.require(Permission::DataWrite)?;
        let mut s = self.visible(by, id).await?;
        let now = self.clock.now_ms();
        let merged = ScheduleDraft {
            report: Some(
                patch
                    .report
                    .clone()
                    .unwrap_or_else(|| s.report.as_str().to_string()),
            ),
            params: Some(match &patch.params {
                Some(p) => p.clone(),
                None => serde_json::to_value(&s.params).map_err(CoreError::internal)?,
            }),
            cron: Some(patch.cron.clone().unwrap_or_else(|| s.cron.clone())),
            timezone: Some(patch.timezone.clone().unwrap_or_else(|| s.timezone.clone())),
            deliver: Some(match &patch.deliver {
                Some(d) => d.clone(),
                None => s
                    .deliver
                    .iter()
                    .map(|d| validate::DestinationDraft {
                        channel: d.channel.as_str().into(),
                        target: d.target.clone(),
                    })
                    .collect(),
            }),
            enabled: Some(patch.enabled.unwrap_or(s.enabled)),
            language: Some(
                patch
                    .language
                    .clone()
                    .unwrap_or_else(|| s.language.as_str().to_string()),
            ),
        };
        let d = validate::definition(&merged, self.email_configured, now)?;
        let timing_changed = d.cron != s.cron || d.timezone != s.timezone;
        let enabling = d.enabled && !s.enabled;
        if !d.enabled {
            s.next_slot_at = None;
        } else if timing_changed || enabling || s.next_slot_at.is_none() {
            s.next_slot_at = d.spec.next_after(now);
        }
        s.report = d.report;
        s.params = d.params;
        s.language = d.language;
        s.cron = d.cron;
        s.timezone = d.timezone;
        s.deliver = d.deliver;
        s.enabled = d.enabled;
        s.updated_at = now;
        if !self.store.update_schedule(&s).await? {
            return Err(CoreError::not_found("schedule", id));
        }
        Ok(self.view(s))
    }

    pub async fn delete(&self, by: &Principal, id: &str) -> CoreResult<()> {
        by.require(Permission::DataWrite)?;
        let s = self.visible(by, id).await?;
        if !self.store.delete_schedule(&s.id).await? {
            return Err(CoreError::not_found("schedule", id));
        }
        Ok(())
    }

    /// Runs the schedule's report and delivers it now, outside its slots (a 202 job).
    pub async fn run_now(&self, by: &Principal, id: &str) -> CoreResult<Job> {
        by.require(Permission::DataWrite)?;
        let s = self.visible(by, id).await?;
        let args = RunArgs {
            schedule_id: s.id.to_string(),
            slot: None,
        };
        let job = NewJob::of::<RunJob>(s.org_id.clone(), &args).map_err(CoreError::internal)?;
        Ok(self.jobs.enqueue(job).await?.job)
    }

    /// Fires every due schedule: one run job per (schedule, slot), however many replicas
    /// tick at once (the schedule's `next_slot_at` moves on in the job's transaction, only
    /// from the value this replica read; the job's unique key is the schedule and slot).
    pub async fn tick(&self) -> CoreResult<TickOutcome> {
        let now = self.clock.now_ms();
        let mut out = TickOutcome::default();
        for s in self.store.due_schedules(now, TICK_BATCH).await? {
            let Ok(spec) = CronSpec::parse(&s.cron, &s.timezone) else {
                tracing::warn!(schedule = %s.id, "stored schedule no longer parses; skipped");
                continue;
            };
            let Some(firing) = plan(&s, &spec, now) else {
                continue;
            };
            let args = RunArgs {
                schedule_id: s.id.to_string(),
                slot: Some(firing.slot),
            };
            let mut job =
                NewJob::of::<RunJob>(s.org_id.clone(), &args).map_err(CoreError::internal)?;
            job.unique_key = Some(format!("schedule:{}:{}", s.id, firing.slot));
            let job = self.jobs.prepare(job);
            if self.store.fire(&firing, &job, now).await? {
                out.fired += 1;
                if firing.skipped > 0 {
                    tracing::info!(schedule = %s.id, skipped = firing.skipped, "missed slots skipped; only the latest runs");
                }
            } else {
                out.lost += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::ids::OrgId;
    use conea_shopdata::analytics::{RawParams, Report};

    const HOUR: EpochMs = 3_600_000;
    /// 2026-06-03T01:00:00Z.
    const T0: EpochMs = 1_780_448_400_000;

    fn hourly(next: EpochMs) -> (Schedule, CronSpec) {
        let s = Schedule {
            id: ScheduleId::generate(),
            org_id: OrgId::generate(),
            report: crate::model::ScheduleReport::Analytics(Report::SalesOverTime),
            params: RawParams::default(),
            language: crate::model::Language::En,
            cron: "0 * * * *".into(),
            timezone: "UTC".into(),
            deliver: vec![],
            enabled: true,
            webhook_secret_sealed: String::new(),
            created_at: 0,
            updated_at: 0,
            next_slot_at: Some(next),
            last_slot_at: None,
            skipped_slots: 0,
            last_skipped_slot_at: None,
            last_run: None,
        };
        let spec = CronSpec::parse(&s.cron, &s.timezone).expect("valid");
        (s, spec)
    }

    #[test]
    fn a_slot_not_yet_due_does_not_fire() {
        let (s, spec) = hourly(T0);
        assert_eq!(plan(&s, &spec, T0 - 1), None);
    }

    #[test]
    fn a_due_slot_fires_once_and_points_at_the_next() {
        let (s, spec) = hourly(T0);
        let f = plan(&s, &spec, T0 + 5_000).expect("due");
        assert_eq!((f.slot, f.skipped, f.last_skipped), (T0, 0, None));
        assert_eq!(f.next, Some(T0 + HOUR));
    }

    #[test]
    fn after_downtime_only_the_latest_slot_runs_and_the_others_are_skipped() {
        let (s, spec) = hourly(T0);
        let f = plan(&s, &spec, T0 + 3 * HOUR + 10).expect("due");
        assert_eq!(f.slot, T0 + 3 * HOUR);
        assert_eq!(f.skipped, 3);
        assert_eq!(f.last_skipped, Some(T0 + 2 * HOUR));
        assert_eq!(f.next, Some(T0 + 4 * HOUR));
    }

    #[test]
    fn a_disabled_schedule_never_fires() {
        let (mut s, spec) = hourly(T0);
        s.enabled = false;
        assert_eq!(plan(&s, &spec, T0 + HOUR), None);
    }
}
