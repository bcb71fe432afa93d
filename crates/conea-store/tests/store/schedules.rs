//! `ScheduleStore` on both backends: a slot fires only from the `next_slot_at` the tick
//! read (a second fire of the same slot, as a racing replica would try, changes nothing and
//! inserts no job), disabled schedules are never due, and the run state round-trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use conea_core::ids::{JobId, OrgId, ScheduleId};
use conea_jobs::{JobFilter, JobStore, NewJob};
use conea_schedules::model::{
    Channel, DeliveryStatus, Destination, Firing, Language, RunState, Schedule, ScheduleReport,
};
use conea_schedules::ScheduleStore;
use conea_shopdata::analytics::{RawParams, Report};
use conea_testkit::{backend_tests, Backend};
use serde_json::json;

const T: i64 = 1_780_448_400_000;
const HOUR: i64 = 3_600_000;

fn schedule(org: &OrgId, next: Option<i64>, enabled: bool) -> Schedule {
    Schedule {
        id: ScheduleId::generate(),
        org_id: org.clone(),
        report: ScheduleReport::Analytics(Report::SalesOverTime),
        language: Language::En,
        params: RawParams {
            timezone: Some("Asia/Tokyo".into()),
            ..RawParams::default()
        },
        cron: "0 * * * *".into(),
        timezone: "UTC".into(),
        deliver: vec![Destination {
            channel: Channel::Webhook,
            target: "https://example.com/hook".into(),
        }],
        enabled,
        webhook_secret_sealed: "sealed".into(),
        created_at: T - HOUR,
        updated_at: T - HOUR,
        next_slot_at: next,
        last_slot_at: None,
        skipped_slots: 0,
        last_skipped_slot_at: None,
        last_run: None,
    }
}

fn firing(s: &Schedule, slot: i64, skipped: i64) -> Firing {
    Firing {
        schedule: s.id.clone(),
        expected: s.next_slot_at.unwrap(),
        slot,
        skipped,
        last_skipped: (skipped > 0).then_some(slot - HOUR),
        next: Some(slot + HOUR),
        job_id: JobId::generate(),
    }
}

fn job(org: &OrgId, s: &Schedule, slot: i64) -> NewJob {
    let mut j = NewJob::new(
        "schedules.run",
        org.clone(),
        json!({"schedule_id": s.id.as_str(), "slot": slot}),
    );
    j.unique_key = Some(format!("{org}:schedule:{}:{slot}", s.id));
    j
}

backend_tests!(
    a_slot_fires_once_from_the_next_slot_the_tick_read,
    disabled_schedules_are_never_due_and_run_state_round_trips,
    a_digest_schedule_keeps_its_report_and_language_through_insert_and_update,
);

async fn a_digest_schedule_keeps_its_report_and_language_through_insert_and_update(b: Backend) {
    let Some((store, org, _db)) = env(b).await else {
        return;
    };
    let mut s = schedule(&org, Some(T), true);
    s.report = ScheduleReport::Digest;
    s.language = Language::Ja;
    store.insert_schedule(&s).await.unwrap();
    assert_eq!(store.get_schedule(&s.id).await.unwrap(), Some(s.clone()));
    s.language = Language::En;
    s.report = ScheduleReport::Analytics(Report::Inventory);
    assert!(store.update_schedule(&s).await.unwrap());
    assert_eq!(store.get_schedule(&s.id).await.unwrap(), Some(s));
}

async fn a_slot_fires_once_from_the_next_slot_the_tick_read(b: Backend) {
    let Some((store, org, _db)) = env(b).await else {
        return;
    };
    let s = schedule(&org, Some(T), true);
    store.insert_schedule(&s).await.unwrap();
    let due = store.due_schedules(T + 3 * HOUR, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0], s, "stored as written");

    let first = firing(&s, T + 3 * HOUR, 3);
    assert!(store
        .fire(&first, &job(&org, &s, first.slot), T + 3 * HOUR)
        .await
        .unwrap());
    // A replica that read the same `next_slot_at` loses, and enqueues nothing.
    let racing = firing(&s, T + 3 * HOUR, 3);
    assert!(!store
        .fire(&racing, &job(&org, &s, racing.slot), T + 3 * HOUR)
        .await
        .unwrap());
    let jobs = store
        .list(
            &org,
            &JobFilter {
                limit: 10,
                ..JobFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, first.job_id);

    let after = store.get_schedule(&s.id).await.unwrap().unwrap();
    assert_eq!(after.next_slot_at, Some(T + 4 * HOUR));
    assert_eq!(after.last_slot_at, Some(T + 3 * HOUR));
    assert_eq!(after.skipped_slots, 3);
    assert_eq!(after.last_skipped_slot_at, Some(T + 2 * HOUR));
    assert!(store
        .due_schedules(T + 3 * HOUR, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn disabled_schedules_are_never_due_and_run_state_round_trips(b: Backend) {
    let Some((store, org, _db)) = env(b).await else {
        return;
    };
    let off = schedule(&org, Some(T), false);
    let on = schedule(&org, Some(T), true);
    store.insert_schedule(&off).await.unwrap();
    store.insert_schedule(&on).await.unwrap();
    let due = store.due_schedules(T, 10).await.unwrap();
    assert_eq!(due.iter().map(|s| &s.id).collect::<Vec<_>>(), [&on.id]);
    let disabled_fire = firing(&off, T, 0);
    assert!(!store
        .fire(&disabled_fire, &job(&org, &off, T), T)
        .await
        .unwrap());

    let run = RunState {
        job_id: JobId::generate().to_string(),
        slot: Some(T),
        at: T + 5,
        status: "failed".into(),
        error: Some("webhook https://example.com/hook: HTTP 500".into()),
        deliveries: vec![DeliveryStatus {
            channel: Channel::Webhook,
            target: "https://example.com/hook".into(),
            status: "failed".into(),
            error: Some("HTTP 500".into()),
            attempt: 1,
            at: T + 5,
        }],
    };
    store.record_run(&on.id, &run).await.unwrap();
    let got = store.get_schedule(&on.id).await.unwrap().unwrap();
    assert_eq!(got.last_run, Some(run));

    let first_page = store.list_schedules(&org, None, 1).await.unwrap();
    let second_page = store
        .list_schedules(&org, Some(&first_page[0].id), 10)
        .await
        .unwrap();
    assert_eq!(first_page.len() + second_page.len(), 2);
    assert_ne!(first_page[0].id, second_page[0].id);
    assert!(store.delete_schedule(&on.id).await.unwrap());
    assert!(store.get_schedule(&on.id).await.unwrap().is_none());
}
