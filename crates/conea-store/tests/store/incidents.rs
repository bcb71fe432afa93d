//! `IncidentStore` on both backends: one unresolved incident per dedup key, a step recorded
//! (with its delivery jobs) at most once, single-use link nonces, and the pending-job lookup
//! by key prefix (with LIKE wildcards in the prefix escaped).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use conea_core::ids::{IncidentId, OrgId};
use conea_incidents::postmortem::EntryKind;
use conea_incidents::store::{Entry, IncidentStore, NewIncident, Status, StepGuard};
use conea_incidents::Severity;
use conea_jobs::NewJob;
use conea_testkit::{backend_tests, Backend};
use serde_json::json;

fn new(org: &OrgId, id: &IncidentId, key: &str) -> NewIncident {
    NewIncident {
        id: id.clone(),
        org_id: org.clone(),
        title: "Disk full".into(),
        severity: Severity::High,
        source: "test".into(),
        dedup_key: key.into(),
        summary: String::new(),
        details: json!({"host": "db-1"}),
    }
}

fn entry(at: i64, msg: &str) -> Entry {
    Entry::new(at, EntryKind::Detected, msg)
}

backend_tests!(
    an_unresolved_incident_absorbs_reports_with_its_dedup_key,
    a_step_is_recorded_and_its_jobs_enqueued_once,
    a_link_nonce_is_usable_once_and_pruned_after_expiry,
);

async fn an_unresolved_incident_absorbs_reports_with_its_dedup_key(b: Backend) {
    let Some((store, org, _db)) = env(b).await else {
        return;
    };
    let [inc_1, inc_2, inc_3, inc_4] = [(); 4].map(|_| IncidentId::generate());
    let first = store
        .open(
            &new(&org, &inc_1, "disk"),
            &entry(10, "opened"),
            &entry(10, "again"),
        )
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.incident.details, json!({"host": "db-1"}));
    let second = store
        .open(
            &new(&org, &inc_2, "disk"),
            &entry(20, "opened"),
            &entry(20, "again"),
        )
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.incident.id, inc_1);
    assert_eq!(second.incident.repeat_count, 2);
    let tl = store.timeline(&inc_1).await.unwrap();
    assert_eq!(tl.len(), 2);
    assert_eq!(tl[1].message, "again (report #2)");
    assert!(store.get(&org, &inc_2).await.unwrap().is_none());
    // Acknowledged still absorbs; resolved frees the key.
    let acked = store.acknowledge(&inc_1, "me", 30).await.unwrap().unwrap();
    assert_eq!(acked.status, Status::Acknowledged);
    assert!(store.acknowledge(&inc_1, "me", 31).await.unwrap().is_none());
    assert!(
        !store
            .open(&new(&org, &inc_3, "disk"), &entry(40, "o"), &entry(40, "a"))
            .await
            .unwrap()
            .created
    );
    store.resolve(&inc_1, "me", 50).await.unwrap().unwrap();
    assert!(store.resolve(&inc_1, "me", 51).await.unwrap().is_none());
    assert!(store.find_unresolved(&org, "disk").await.unwrap().is_none());
    let third = store
        .open(&new(&org, &inc_4, "disk"), &entry(60, "o"), &entry(60, "a"))
        .await
        .unwrap();
    assert!(third.created);
    assert_eq!(
        store
            .find_unresolved(&org, "disk")
            .await
            .unwrap()
            .unwrap()
            .id,
        inc_4
    );
}

async fn a_step_is_recorded_and_its_jobs_enqueued_once(b: Backend) {
    let Some((store, org, _db)) = env(b).await else {
        return;
    };
    let inc = IncidentId::generate();
    store
        .open(&new(&org, &inc, "k"), &entry(1, "o"), &entry(1, "a"))
        .await
        .unwrap();
    let mut step = entry(5, "Page primary");
    step.step = Some("escalate:primary".into());
    let mut job = NewJob::new("incidents.notify", org.clone(), json!({"n": 1}));
    job.unique_key = Some(format!(
        "{org}:incident:{inc}:escalate:primary:deliver:slack"
    ));
    assert!(store
        .record_step(
            &inc,
            &step,
            std::slice::from_ref(&job),
            StepGuard::WhileUnresolved
        )
        .await
        .unwrap());
    assert!(
        !store
            .record_step(
                &inc,
                &step,
                std::slice::from_ref(&job),
                StepGuard::WhileUnresolved
            )
            .await
            .unwrap(),
        "a step is recorded once"
    );
    let pending = store
        .pending_jobs(&format!("{org}:incident:{inc}:"))
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "its delivery job was enqueued once");
    assert_eq!(pending[0].kind, "incidents.notify");
    // `%` and `_` in a prefix are not wildcards: no key starts with them literally.
    assert!(store
        .pending_jobs(&format!("{org}:incident:%"))
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .pending_jobs(&format!(
            "{org}:incident:{}_",
            &inc.as_str()[..inc.as_str().len() - 1]
        ))
        .await
        .unwrap()
        .is_empty());
    let steps: Vec<_> = store
        .timeline(&inc)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.step)
        .collect();
    assert_eq!(steps, ["escalate:primary"]);

    // Once acknowledged, a step that acknowledging cancels is not recorded (whatever its
    // job saw before), while one that only resolving cancels still is.
    store
        .acknowledge(&inc, "usr_x", 6)
        .await
        .unwrap()
        .expect("was open");
    let mut late = entry(7, "Page secondary");
    late.step = Some("escalate:secondary".into());
    assert!(!store
        .record_step(&inc, &late, &[], StepGuard::WhileOpen)
        .await
        .unwrap());
    let mut war_room = entry(7, "War room");
    war_room.step = Some("war_room".into());
    assert!(store
        .record_step(&inc, &war_room, &[], StepGuard::WhileUnresolved)
        .await
        .unwrap());
    store.resolve(&inc, "usr_x", 8).await.unwrap();
    let mut after = entry(9, "Stakeholders");
    after.step = Some("stakeholders".into());
    assert!(!store
        .record_step(&inc, &after, &[], StepGuard::WhileUnresolved)
        .await
        .unwrap());
}

async fn a_link_nonce_is_usable_once_and_pruned_after_expiry(b: Backend) {
    let Some((store, _org, _db)) = env(b).await else {
        return;
    };
    assert!(store.use_nonce("n1", 100, 10).await.unwrap());
    assert!(!store.use_nonce("n1", 100, 11).await.unwrap());
    assert_eq!(store.prune_nonces(100).await.unwrap(), 0);
    assert_eq!(store.prune_nonces(101).await.unwrap(), 1);
}
