//! The fault suite (issue 22): `conea serve` as a child process against PostgreSQL and
//! Redis processes of the test's own (`conea_testkit::private`: their own ports, a temporary
//! directory), which are stopped, killed and frozen (`SIGSTOP`) while work arrives, and the
//! server itself SIGKILLed in the middle of an import. Each test asserts that nothing the
//! server acknowledged (a 202) is lost and that no job completes twice (the `job_runs`
//! ledger), and that answers during an outage are the error body, not a hang or a crash.
//! Without the binaries a test prints one line and skips; CI (`CONEA_REQUIRE_SERVICES=1`)
//! fails instead. Latency under these faults is measured by `bench/redis_outage.sh` and
//! `bench/slow_sockets.sh`, not asserted here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{self, runtime, Env};
use conea_testkit::private::{PrivatePostgres, PrivateRedis};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub(crate) fn order_line(id: u64) -> String {
    format!(
        r#"{{"id": {id}, "created_at": "2026-03-01T10:00:00Z", "updated_at": "2026-03-01T10:00:00Z", "currency": "EUR", "total_price": "10.00", "financial_status": "paid", "line_items": [{{"id": {}, "quantity": 1, "price": "10.00"}}]}}"#,
        id * 10
    )
}

/// One request, with a client timeout longer than the server's request timeout.
pub(crate) fn send(
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<(&str, String)>,
) -> (u16, Value) {
    runtime().block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut r = client.request(method, url).bearer_auth(key);
        if let Some((content_type, body)) = body {
            r = r.header("content-type", content_type).body(body);
        }
        match r.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or_default())
            }
            Err(e) => panic!("no answer from the server (it must answer, if only 503): {e}"),
        }
    })
}

/// Waits until every job in `ids` is `completed`; panics naming the first that is not.
pub(crate) fn wait_completed(
    server: &support::Server,
    key: &str,
    ids: &[String],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    for id in ids {
        loop {
            let (status, job) = server.get(&format!("/v1/jobs/{id}"), key);
            if status == 200 && job["status"] == "completed" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "acknowledged job {id} never completed: {status} {job}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn scalar(url: &str, sql: &str) -> i64 {
    runtime().block_on(async {
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n = sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n = sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        }
    })
}

/// Imports arrive one after another while the database is stopped (as by a crash), started,
/// then frozen and thawed. Each import answered 202 ends completed, its order stored, once;
/// each other answer is the error body with a 5xx (the request ran into the outage).
#[test]
fn imports_acknowledged_while_postgres_stops_and_freezes_are_all_completed_once() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let mut env = Env::sqlite();
    env.set("DATABASE_URL", &pg.url())
        .set("JWT_SECRET", support::JWT_SECRET)
        .set("CONEA_SECRET_KEY", support::SECRET_KEY)
        .set("CONEA_LOG", "warn")
        .set("CONEA_JOB_LEASE", "3s")
        .set("CONEA_JOB_POLL", "100ms")
        .set("CONEA_DB_CONNECT_TIMEOUT", "1s")
        .set("CONEA_REQUEST_TIMEOUT", "3s");
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let url = server.url("/v1/data/imports?kind=orders");
    let mut acknowledged: Vec<(u64, String)> = Vec::new();
    let mut refused = 0;
    for id in 1..=48u64 {
        match id {
            10 => pg.stop(),
            18 => pg.start_again(),
            28 => pg.freeze(),
            34 => pg.thaw(),
            _ => {}
        }
        let (status, body) = send(
            reqwest::Method::POST,
            &url,
            &key,
            Some(("application/x-ndjson", format!("{}\n", order_line(id)))),
        );
        if status == 202 {
            acknowledged.push((id, body["job_id"].as_str().unwrap().to_owned()));
        } else {
            assert!(status >= 500, "import {id}: {status} {body}");
            assert!(
                body["error"]["code"].as_str().is_some(),
                "import {id}: the error body: {status} {body}"
            );
            refused += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused > 0, "the outages were felt");
    assert!(acknowledged.len() > 24, "most imports were acknowledged");
    let ids: Vec<String> = acknowledged.iter().map(|(_, j)| j.clone()).collect();
    wait_completed(&server, &key, &ids, Duration::from_secs(120));
    let stored: BTreeSet<i64> = runtime().block_on(async {
        let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
        let rows: Vec<i64> = sqlx::query_scalar("SELECT source_id FROM orders")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows.into_iter().collect()
    });
    for (id, job) in &acknowledged {
        assert!(
            stored.contains(&(*id as i64)),
            "order {id} of job {job} was lost"
        );
        let runs = scalar(
            &pg.url(),
            &format!("SELECT COUNT(*) FROM job_runs WHERE job_id = '{job}'"),
        );
        assert_eq!(runs, 1, "job {job} completed {runs} times");
    }
}

/// Authenticated requests keep coming while the private Redis (shared rate limits) is
/// killed, started again, then frozen and thawed: in fail-open mode every one is answered
/// 200, decided in process during the outages, and decisions go back to Redis after.
#[test]
fn requests_are_all_answered_while_redis_is_killed_and_frozen() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let mut env = Env::sqlite();
    env.set("REDIS_URL", &redis.url())
        .set("CONEA_LOG", "warn")
        .set("CONEA_RATE_LIMIT_FAILURE_MODE", "open")
        .set("RATE_LIMIT_PER_MINUTE", "1000000")
        .set("RATE_LIMIT_BURST", "1000000")
        .set("CONEA_WORKER_CONCURRENCY", "0");
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let url = server.url("/v1/rate-limit");
    let mut backends = Vec::new();
    for i in 0..160 {
        match i {
            30 => redis.kill(),
            60 => redis.start_again(),
            90 => redis.freeze(),
            120 => redis.thaw(),
            _ => {}
        }
        let (status, body) = send(reqwest::Method::GET, &url, &key, None);
        assert_eq!(status, 200, "request {i}: {body}");
        backends.push(body["backend"].as_str().unwrap_or_default().to_owned());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(backends[0], "redis");
    assert!(
        backends[31..60].iter().all(|b| b == "memory"),
        "decided in process while Redis was down: {backends:?}"
    );
    assert!(
        backends[92..120].iter().all(|b| b == "memory"),
        "decided in process while Redis was frozen: {backends:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = send(reqwest::Method::GET, &url, &key, None);
        if body["backend"] == "redis" {
            break;
        }
        assert!(Instant::now() < deadline, "Redis was never used again");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `conea serve` is SIGKILLed while it runs an import, then started again: the import
/// resumes and completes once, with every order stored exactly once, and (having made
/// progress before the kill) without counting the crash as an attempt.
#[test]
fn sigkill_of_serve_during_an_import_loses_and_doubles_nothing() {
    const ORDERS: u64 = 30_000;
    let mut env = Env::sqlite();
    env.set("CONEA_LOG", "warn")
        .set("CONEA_JOB_LEASE", "3s")
        .set("CONEA_JOB_POLL", "100ms")
        .set("CONEA_WORKER_CONCURRENCY", "1");
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let body: String = (1..=ORDERS).map(|i| order_line(i) + "\n").collect();
    let (status, accepted) = send(
        reqwest::Method::POST,
        &server.url("/v1/data/imports?kind=orders"),
        &key,
        Some(("application/x-ndjson", body)),
    );
    assert_eq!(status, 202, "{accepted}");
    let job = accepted["job_id"].as_str().unwrap().to_owned();
    // Killed once the import has committed some batches and is not done.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, j) = server.get(&format!("/v1/jobs/{job}"), &key);
        let progress = j["progress"].as_u64().unwrap_or(0);
        assert_ne!(
            j["status"], "completed",
            "the import ended before the kill: {j}"
        );
        if j["status"] == "running" && progress >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the import never progressed: {j}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    let server = env.serve();
    wait_completed(
        &server,
        &key,
        std::slice::from_ref(&job),
        Duration::from_secs(180),
    );
    let db = format!("sqlite://{}/conea.db", env.data_dir().display());
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM orders") as u64,
        ORDERS,
        "every order once"
    );
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) FROM job_runs WHERE job_id = '{job}'")
        ),
        1,
        "completed once"
    );
    let (_, j) = server.get(&format!("/v1/jobs/{job}"), &key);
    assert_eq!(
        j["attempts"], 1,
        "the crash after progress cost no attempt: {j}"
    );
}
