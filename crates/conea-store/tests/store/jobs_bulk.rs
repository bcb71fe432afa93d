//! A bulk enqueue refreshes the jobs table's planner statistics, so the first claims after
//! it use the runnable index instead of sorting the whole queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::env;
use conea_jobs::{JobStore, NewJob};
use conea_store::{Db, BULK_ANALYZE_ROWS};
use conea_testkit::{backend_tests, Backend};
use serde_json::json;

async fn a_bulk_enqueue_leaves_the_jobs_table_analyzed(backend: Backend) {
    let Some((store, org, _db)) = env(backend).await else {
        return;
    };
    let jobs: Vec<NewJob> = (0..BULK_ANALYZE_ROWS)
        .map(|i| NewJob {
            kind: "noop".into(),
            org_id: org.clone(),
            args: json!({ "i": i }),
            priority: 0,
            max_attempts: 5,
            scheduled_at: None,
            unique_key: None,
        })
        .collect();
    assert_eq!(
        store.enqueue_many(&jobs, 1_000).await.unwrap(),
        BULK_ANALYZE_ROWS
    );
    match store.db() {
        Db::Postgres(p) => {
            // Never analyzed: -1; ANALYZE sets the row estimate.
            let (tuples,): (f32,) =
                sqlx::query_as("SELECT reltuples FROM pg_class WHERE oid = 'jobs'::regclass")
                    .fetch_one(p)
                    .await
                    .unwrap();
            assert!(
                tuples >= BULK_ANALYZE_ROWS as f32 * 0.9,
                "reltuples {tuples}"
            );
        }
        Db::Sqlite(p) => {
            let (rows,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'jobs'")
                    .fetch_one(p)
                    .await
                    .unwrap();
            assert!(rows > 0, "no statistics for jobs");
        }
    }
}

backend_tests!(a_bulk_enqueue_leaves_the_jobs_table_analyzed);
