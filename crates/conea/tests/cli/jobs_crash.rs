//! Crash tests with real processes: jobs enqueued, two `conea worker` processes, one of them
//! SIGKILLed several times mid-run and restarted. Every job must end `completed` exactly
//! once: the completion ledger (`job_runs`, primary key on the job id, written in the
//! completing transaction) has exactly one row per job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::Child;
use std::time::{Duration, Instant};
use support::{runtime, Backend, Env};

fn kill9(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// `SELECT COUNT(*) …` statements on one connection to the test database; each `$1` is
/// bound to the statement's argument when it has one.
async fn count_each(url: &str, backend: Backend, queries: &[(&str, Option<&str>)]) -> Vec<i64> {
    macro_rules! run {
        ($pool:expr) => {{
            let mut out = Vec::new();
            for (sql, arg) in queries {
                let mut q = sqlx::query_scalar::<_, i64>(sql);
                if let Some(a) = arg {
                    q = q.bind(*a);
                }
                out.push(q.fetch_one(&$pool).await.unwrap());
            }
            $pool.close().await;
            out
        }};
    }
    match backend {
        Backend::Postgres => run!(sqlx::PgPool::connect(url).await.unwrap()),
        Backend::Sqlite => run!(sqlx::SqlitePool::connect(url).await.unwrap()),
    }
}

/// (completed, total, ledger rows, rescued) jobs.
async fn counts(url: &str, backend: Backend) -> (i64, i64, i64, i64) {
    let n = count_each(
        url,
        backend,
        &[
            ("SELECT COUNT(*) FROM jobs WHERE state = 'completed'", None),
            ("SELECT COUNT(*) FROM jobs", None),
            ("SELECT COUNT(*) FROM job_runs", None),
            ("SELECT COUNT(*) FROM jobs WHERE attempt > 1", None),
        ],
    )
    .await;
    (n[0], n[1], n[2], n[3])
}

/// Jobs the worker process `pid` holds running (its id is `worker-{host}-{pid}-{suffix}`).
async fn running_in(url: &str, backend: Backend, pid: u32) -> i64 {
    let pattern = format!("worker-%-{pid}-%");
    let sql = "SELECT COUNT(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1";
    count_each(url, backend, &[(sql, Some(&pattern))]).await[0]
}

/// Waits (up to 10 s) until `child` holds running jobs, so a kill leaves work mid-run;
/// returns early when the queue has drained.
fn until_running(
    rt: &tokio::runtime::Runtime,
    url: &str,
    backend: Backend,
    child: &Child,
    jobs: u32,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if rt.block_on(running_in(url, backend, child.id())) > 0 {
            return;
        }
        if rt.block_on(counts(url, backend)).0 == i64::from(jobs) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn crash_and_recover(mut env: Env, jobs: u32) {
    env.set("CONEA_JOB_LEASE", "3s")
        .set("CONEA_JOB_POLL", "100ms")
        .set("CONEA_LOG", "warn");
    let url = match env.backend {
        Backend::Postgres => env.var("DATABASE_URL").unwrap().to_owned(),
        Backend::Sqlite => format!("sqlite://{}/conea.db", env.data_dir().display()),
    };
    env.create_default_org();
    env.run(&[
        "jobs",
        "enqueue",
        "noop",
        "--count",
        &jobs.to_string(),
        "--args",
        r#"{"sleep_ms": 5}"#,
    ])
    .success();
    let worker = ["worker", "--concurrency", "16"];
    let mut a = env.spawn(&worker);
    let mut b = env.spawn(&worker);
    let rt = runtime();
    // Kill worker A three times while the queue drains, and B once; restart each time.
    // Each kill waits until its victim holds running jobs (the first one surely does: the
    // queue is full), so the kills leave work mid-run for the rescue to find.
    for round in 0..4 {
        std::thread::sleep(Duration::from_millis(300));
        if round == 2 {
            until_running(&rt, &url, env.backend, &b, jobs);
            kill9(&mut b);
            b = env.spawn(&worker);
        } else {
            until_running(&rt, &url, env.backend, &a, jobs);
            kill9(&mut a);
            a = env.spawn(&worker);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let (completed, total, ledger, rescued) = loop {
        let c = rt.block_on(counts(&url, env.backend));
        if c.0 == i64::from(jobs) || Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    kill9(&mut a);
    kill9(&mut b);
    assert_eq!(total, i64::from(jobs), "no job lost or duplicated");
    assert_eq!(completed, i64::from(jobs), "every job completed");
    assert_eq!(ledger, i64::from(jobs), "exactly one completion per job");
    assert!(
        rescued >= 1,
        "the kills left jobs mid-run that were rescued and completed once"
    );
}

#[test]
fn killed_workers_lose_no_job_and_complete_each_exactly_once_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    crash_and_recover(env, 10_000);
}

#[test]
fn killed_workers_lose_no_job_and_complete_each_exactly_once_on_sqlite() {
    crash_and_recover(Env::sqlite(), 2_000);
}

fn post(url: &str, key: &str, content_type: &str, body: String) -> (u16, serde_json::Value) {
    runtime().block_on(async move {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    })
}

fn accepted_work_survives_sigkill_of_serve_right_after_202(mut env: Env) {
    env.set("CONEA_LOG", "warn")
        .set("CONEA_WORKER_CONCURRENCY", "0");
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let order = serde_json::json!({"id": 1, "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z",
        "currency": "USD", "total_price": "10.00", "financial_status": "paid", "line_items": []});
    let (s1, import) = post(
        &server.url("/v1/data/imports?kind=orders"),
        &key,
        "application/x-ndjson",
        format!("{order}\n"),
    );
    let (s2, process) = post(
        &server.url("/v1/data/process"),
        &key,
        "application/json",
        r#"{"operation": "orders_summary"}"#.into(),
    );
    assert_eq!((s1, s2), (202, 202), "{import} {process}");
    server.kill9();
    // A new process with a worker finishes what the killed one accepted.
    env.set("CONEA_WORKER_CONCURRENCY", "2");
    let server = env.serve();
    for accepted in [&import, &process] {
        let path = accepted["check_url"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, job) = server.get(&path, &key);
            assert_eq!(status, 200, "{job}");
            if job["status"] == "completed" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "accepted job never completed: {job}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (_, import_job) = server.get(import["check_url"].as_str().unwrap(), &key);
    assert_eq!(import_job["result"]["inserted"], 1, "{import_job}");
}

#[test]
fn sigkill_of_serve_after_202_loses_nothing_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    accepted_work_survives_sigkill_of_serve_right_after_202(env);
}

#[test]
fn sigkill_of_serve_after_202_loses_nothing_on_sqlite() {
    accepted_work_survives_sigkill_of_serve_right_after_202(Env::sqlite());
}
