//! An organization's job listing reads `organization_jobs`, which triggers keep in step
//! with `jobs`: every insert path adds the owner once, a unique-key insert that inserts
//! nothing adds nothing, and pruned jobs and a deleted organization's jobs leave it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use conea_core::ids::OrgId;
use conea_jobs::{JobFilter, JobState, JobStore, NewJob};
use conea_store::{Db, SqlStore};
use conea_testkit::{backend_tests, Backend};
use serde_json::json;

fn job(org: &OrgId, i: u32, unique_key: Option<&str>) -> NewJob {
    NewJob {
        kind: if i.is_multiple_of(2) { "even" } else { "odd" }.into(),
        org_id: org.clone(),
        args: json!({ "i": i }),
        priority: 0,
        max_attempts: 5,
        scheduled_at: None,
        unique_key: unique_key.map(str::to_owned),
    }
}

fn all() -> JobFilter {
    JobFilter {
        limit: 100,
        ..JobFilter::default()
    }
}

async fn owner_rows(store: &SqlStore, org: &OrgId) -> i64 {
    let sql = "SELECT count(*) FROM organization_jobs WHERE organization_id = $1";
    let (n,): (i64,) = match store.db() {
        Db::Postgres(p) => sqlx::query_as(sql).bind(org.as_str()).fetch_one(p).await,
        Db::Sqlite(p) => sqlx::query_as(sql).bind(org.as_str()).fetch_one(p).await,
    }
    .unwrap();
    n
}

async fn delete_org(store: &SqlStore, org: &OrgId) {
    let sql = "DELETE FROM organizations WHERE id = $1";
    match store.db() {
        Db::Postgres(p) => sqlx::query(sql)
            .bind(org.as_str())
            .execute(p)
            .await
            .map(|_| ()),
        Db::Sqlite(p) => sqlx::query(sql)
            .bind(org.as_str())
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

async fn each_organization_lists_its_own_jobs_through_every_insert_path(backend: Backend) {
    let Some((store, acme, _db)) = env(backend).await else {
        return;
    };
    let other = common::new_org(&store, "other").await;

    let first = store
        .enqueue(&job(&acme, 0, Some("k")), 1_000)
        .await
        .unwrap();
    assert!(first.created);
    // The same live unique key inserts nothing, so it adds no owner row either.
    let again = store
        .enqueue(&job(&acme, 0, Some("k")), 1_001)
        .await
        .unwrap();
    assert!(!again.created);
    let bulk: Vec<NewJob> = (1..=4).map(|i| job(&acme, i, None)).collect();
    assert_eq!(store.enqueue_many(&bulk, 1_002).await.unwrap(), 4);
    store.enqueue(&job(&other, 9, None), 1_003).await.unwrap();

    let listed = store.list(&acme, &all()).await.unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert!(listed.iter().all(|j| j.org_id == acme));
    let ids: Vec<&str> = listed.iter().map(|j| j.id.as_str()).collect();
    let mut newest_first = ids.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first, "newest first");
    assert_eq!(owner_rows(&store, &acme).await, 5);
    assert_eq!(store.list(&other, &all()).await.unwrap().len(), 1);

    // Filters and the cursor apply within the organization.
    let odd = JobFilter {
        kind: Some("odd".into()),
        ..all()
    };
    assert_eq!(store.list(&acme, &odd).await.unwrap().len(), 2);
    let page = JobFilter {
        after: Some(ids[1].to_owned()),
        limit: 2,
        ..all()
    };
    let next: Vec<String> = store
        .list(&acme, &page)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id.to_string())
        .collect();
    assert_eq!(next, vec![ids[2].to_owned(), ids[3].to_owned()]);

    // A cancelled job is pruned: it leaves the listing and the owner table.
    store.cancel(&first.job.id, 2_000).await.unwrap();
    let cancelled = JobFilter {
        state: Some(JobState::Cancelled),
        ..all()
    };
    assert_eq!(store.list(&acme, &cancelled).await.unwrap().len(), 1);
    assert_eq!(store.prune(3_000).await.unwrap(), 1);
    assert_eq!(store.list(&acme, &all()).await.unwrap().len(), 4);
    assert_eq!(owner_rows(&store, &acme).await, 4);

    // Deleting an organization deletes its jobs (foreign key) and their owner rows.
    delete_org(&store, &other).await;
    assert_eq!(owner_rows(&store, &other).await, 0);
    assert_eq!(owner_rows(&store, &acme).await, 4);
}

backend_tests!(each_organization_lists_its_own_jobs_through_every_insert_path);
