//! Read routing against a real streaming standby (issue 24): a PostgreSQL primary and a
//! standby made by `pg_basebackup`, each a process of the test's own
//! (`conea_testkit::private`), with `conea serve` pointed at both. The standby's replay is
//! paused and resumed (`pg_wal_replay_pause()`/`pg_wal_replay_resume()`) and the standby is
//! stopped, while the response header `Conea-Read-From` and the rows each answer holds show
//! which database served the reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::faults::{order_line, send, wait_completed};
use crate::support::{self, runtime, Env};
use conea_testkit::private::PrivatePostgres;
use serde_json::Value;
use std::time::{Duration, Instant};

/// GET `path`: status, the `Conea-Read-From` header and the body.
fn read(server: &support::Server, path: &str, key: &str) -> (u16, String, Value) {
    let url = server.url(path);
    runtime().block_on(async {
        let resp = reqwest::Client::new()
            .get(&url)
            .bearer_auth(key)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = resp.status().as_u16();
        let from = resp
            .headers()
            .get("conea-read-from")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, from, resp.json().await.unwrap_or_default())
    })
}

/// Whether the order list answer holds the order with Shopify id `id`.
fn lists_order(body: &Value, id: u64) -> bool {
    body["data"]
        .as_array()
        .is_some_and(|rows| rows.iter().any(|o| o["id"] == id))
}

fn execute(url: &str, sql: &str) {
    runtime().block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    });
}

fn replayed_probe(standby: &str, n: i64) -> bool {
    runtime().block_on(async {
        let pool = sqlx::PgPool::connect(standby).await.unwrap();
        let seen: Option<i64> = sqlx::query_scalar("SELECT max(n) FROM standby_probe")
            .fetch_one(&pool)
            .await
            .unwrap_or(None);
        pool.close().await;
        seen == Some(n)
    })
}

/// Until `check` holds, within `within`; panics with `what`.
fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn reads_follow_a_real_standby_its_lag_its_pause_and_its_absence() {
    let Some(primary) = PrivatePostgres::start() else {
        return;
    };
    let Some(standby) = PrivatePostgres::standby_of(&primary) else {
        return;
    };
    let mut env = Env::sqlite();
    env.set("DATABASE_URL", &primary.url())
        .set("DATABASE_REPLICA_URL", &standby.url())
        .set("CONEA_MAX_REPLICA_LAG", "10s")
        .set("JWT_SECRET", support::JWT_SECRET)
        .set("CONEA_SECRET_KEY", support::SECRET_KEY)
        .set("CONEA_LOG", "warn")
        .set("CONEA_JOB_POLL", "100ms");
    let server = env.serve();
    let writer = support::api_keys_in(&server.startup_output)[0].clone();
    let reader = env
        .run(&[
            "keys",
            "create",
            "--org",
            "default",
            "--name",
            "reader",
            "--permission",
            "data:read",
        ])
        .success()
        .stdout_line();
    let orders = "/v1/shop/orders?limit=250";

    // 1. A client that has not written reads from the standby once its lag is known.
    wait_until(
        "reads going to the standby",
        Duration::from_secs(30),
        || {
            let (status, from, _) = read(&server, orders, &reader);
            status == 200 && from == "replica"
        },
    );
    let replication = env.run(&["db", "replication"]).success();
    assert!(
        replication.stdout.contains("replica lag") && replication.stdout.contains("ok"),
        "conea db replication reports the standby's lag: {}",
        replication.stdout
    );

    // 2. Replay paused just after a fresh commit: the standby stays current enough to serve
    // (its lag counts from that commit), but does not have what is written next.
    execute(&primary.url(), "CREATE TABLE standby_probe (n bigint)");
    execute(&primary.url(), "INSERT INTO standby_probe VALUES (1)");
    wait_until(
        "the standby replaying the probe",
        Duration::from_secs(30),
        || replayed_probe(&standby.url(), 1),
    );
    execute(&standby.url(), "SELECT pg_wal_replay_pause()");
    let url = server.url("/v1/data/imports?kind=orders");
    let (status, job) = send(
        reqwest::Method::POST,
        &url,
        &writer,
        Some(("application/x-ndjson", format!("{}\n", order_line(7001)))),
    );
    assert_eq!(status, 202, "{job}");
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    wait_completed(&server, &writer, &[job_id], Duration::from_secs(30));

    // Read-your-writes: the client that wrote reads the primary and sees its order.
    let (status, from, body) = read(&server, orders, &writer);
    assert_eq!((status, from.as_str()), (200, "primary"), "{body}");
    assert!(
        lists_order(&body, 7001),
        "the writer sees its write: {body}"
    );
    // Another client still reads the standby, which has not replayed the order.
    let (status, from, body) = read(&server, orders, &reader);
    assert_eq!(
        (status, from.as_str()),
        (200, "replica"),
        "the standby serves while its lag is under CONEA_MAX_REPLICA_LAG: {body}"
    );
    assert!(
        !lists_order(&body, 7001),
        "the paused standby has not replayed the order, so a read it served lacks it: {body}"
    );

    // 3. While replay stays paused the lag passes CONEA_MAX_REPLICA_LAG: reads move to the
    // primary, and `conea db replication` reports the lag.
    wait_until(
        "reads moving to the primary",
        Duration::from_secs(60),
        || {
            let (status, from, body) = read(&server, orders, &reader);
            status == 200 && from == "primary" && lists_order(&body, 7001)
        },
    );
    let replication = env.run(&["db", "replication"]).success();
    assert!(
        replication.stdout.contains("TOO HIGH"),
        "conea db replication reports the paused standby's lag: {}",
        replication.stdout
    );

    // 4. Resumed, the standby catches up and serves again, with the order.
    execute(&standby.url(), "SELECT pg_wal_replay_resume()");
    wait_until(
        "reads going back to the standby",
        Duration::from_secs(60),
        || {
            let (status, from, body) = read(&server, orders, &reader);
            status == 200 && from == "replica" && lists_order(&body, 7001)
        },
    );

    // 5. A stopped standby: reads keep working from the primary, and the CLI says why.
    standby.stop_fast();
    wait_until(
        "reads moving to the primary",
        Duration::from_secs(60),
        || {
            let (status, from, body) = read(&server, orders, &reader);
            status == 200 && from == "primary" && lists_order(&body, 7001)
        },
    );
    let replication = env.run(&["db", "replication"]);
    let said = format!("{}{}", replication.stdout, replication.stderr);
    assert!(
        said.contains("replica") || said.contains("DATABASE_REPLICA_URL"),
        "conea db replication names the unreachable standby: {said}"
    );
    replication.assert_no_panic();
}
