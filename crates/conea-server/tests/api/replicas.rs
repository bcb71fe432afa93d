//! Read-replica routing (PostgreSQL only). The "replica" is a second, separately migrated
//! schema that replication never fills, so a read shows where it ran: the primary has the
//! organization's keys, jobs and orders, the stand-in replica has none. Its lag comes from a
//! source the test controls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use conea_core::config::{Backend as DbBackend, DatabaseConfig};
use conea_core::reads::LagSource;
use conea_core::FakeClock;
use conea_server::Options;
use conea_testkit::fake_shopify::{self, Counts, FakeShopify};
use conea_testkit::{Backend, Client, Resp, TestApp, TestDb, TestSchema};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct ControlledLag(Mutex<Result<Duration, String>>);

impl ControlledLag {
    fn set(&self, lag: Result<Duration, String>) {
        *self.0.lock().unwrap() = lag;
    }
}

#[async_trait]
impl LagSource for ControlledLag {
    async fn lag(&self) -> Result<Duration, String> {
        self.0.lock().unwrap().clone()
    }
}

fn db_config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        replica_url: None,
        max_replica_lag: Duration::from_secs(5),
        url: url.to_owned(),
        backend: DbBackend::Postgres,
        max_connections: 2,
        idle_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        slow_statement: Duration::from_secs(1),
    }
}

/// A primary app whose `DATABASE_REPLICA_URL` is a second migrated schema.
async fn primary_with_replica(lag: Arc<ControlledLag>) -> Option<(TestApp, TestSchema)> {
    primary_with_replica_and(lag, &[]).await
}

async fn primary_with_replica_and(
    lag: Arc<ControlledLag>,
    extra: &[(&str, &str)],
) -> Option<(TestApp, TestSchema)> {
    let primary = TestDb::create(Backend::Postgres).await?;
    let replica = TestSchema::create().await?;
    let db = conea_store::db::connect(&db_config(&replica.url()))
        .await
        .unwrap();
    conea_store::migrate::run(&db).await.unwrap();
    db.close().await;
    let url = replica.url();
    let mut settings = vec![
        ("DATABASE_REPLICA_URL", url.as_str()),
        ("CONEA_MAX_REPLICA_LAG", "5s"),
    ];
    settings.extend_from_slice(extra);
    let app = TestApp::start_with_options(
        primary,
        &settings,
        FakeClock::starting_now(),
        Options {
            lag_source: Some(lag),
            ..Options::default()
        },
    )
    .await;
    Some((app, replica))
}

/// Another Conea replica of `app` (same databases, clock and settings).
async fn second_replica(
    app: &TestApp,
    replica: &TestSchema,
    lag: Arc<ControlledLag>,
    extra: &[(&str, &str)],
) -> TestApp {
    let url = replica.url();
    let mut settings = vec![
        ("DATABASE_REPLICA_URL", url.as_str()),
        ("CONEA_MAX_REPLICA_LAG", "5s"),
    ];
    settings.extend_from_slice(extra);
    TestApp::start_with_options(
        app.db.clone(),
        &settings,
        app.clock.clone(),
        Options {
            lag_source: Some(lag),
            ..Options::default()
        },
    )
    .await
}

fn read_from(r: &Resp) -> &str {
    r.header("conea-read-from").unwrap_or("(none)")
}

async fn keys(app: &TestApp, key: &str) -> (String, usize) {
    let r = app.client.get("/v1/api-keys", Some(key)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        read_from(&r).to_owned(),
        r.body["data"].as_array().unwrap().len(),
    )
}

async fn reads_report(app: &TestApp) -> Value {
    let r = app.client.get("/health", None).await;
    r.body["checks"]["database"]["reads"].clone()
}

#[tokio::test]
async fn listings_read_the_replica_only_when_its_lag_is_under_the_limit_and_the_client_has_not_just_written(
) {
    let lag = Arc::new(ControlledLag(Mutex::new(Err("not measured yet".into()))));
    let Some((app, _replica)) = primary_with_replica(lag.clone()).await else {
        return;
    };
    let owner = app.owner().to_owned();
    let reads = app.state.platform().reads.clone();

    // No lag known: the primary, which has the owner key.
    reads.refresh().await;
    assert_eq!(keys(&app, &owner).await, ("primary".into(), 1));
    assert_eq!(reads_report(&app).await["reason"], "lag_unknown");

    // 0.5 s behind, limit 5 s: a client that has not written reads the replica (empty).
    lag.set(Ok(Duration::from_millis(500)));
    reads.refresh().await;
    assert_eq!(keys(&app, &owner).await, ("replica".into(), 0));
    let report = reads_report(&app).await;
    assert_eq!(report["reads_go_to"], "replica", "{report}");
    assert_eq!(report["lag_ms"], 500);

    // The owner writes (a new key): its own reads go to the primary and see the key...
    let created = app
        .client
        .post(
            "/v1/api-keys",
            Some(&owner),
            json!({"name": "reader", "permissions": ["keys:manage"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(keys(&app, &owner).await, ("primary".into(), 2));
    // ...while another client, who wrote nothing, still reads the replica.
    let other = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(keys(&app, &other).await, ("replica".into(), 0));

    // Once the replica has surely replayed the write (lag + one poll), the owner reads it too.
    app.clock.advance(Duration::from_millis(1_400));
    reads.refresh().await;
    assert_eq!(keys(&app, &owner).await.0, "primary");
    app.clock.advance(Duration::from_millis(101));
    reads.refresh().await;
    assert_eq!(keys(&app, &owner).await, ("replica".into(), 0));

    // Lag over the limit: everybody reads the primary, and /health says why.
    lag.set(Ok(Duration::from_secs(6)));
    reads.refresh().await;
    assert_eq!(keys(&app, &other).await, ("primary".into(), 2));
    let report = reads_report(&app).await;
    assert_eq!(report["reads_go_to"], "primary");
    assert_eq!(report["reason"], "lag_over_limit");

    // The lag cannot be measured (replica down): the primary, with the error shown.
    lag.set(Err("connection refused".into()));
    reads.refresh().await;
    assert_eq!(keys(&app, &other).await.0, "primary");
    let report = reads_report(&app).await;
    assert_eq!(report["reason"], "lag_unknown");
    assert_eq!(report["lag_error"], "connection refused");

    let metrics = app.client.get("/metrics", None).await.text;
    assert!(
        metrics.contains("conea_read_routes_total{target=\"replica\",reason=\"replica_fresh\"}"),
        "{metrics}"
    );
}

fn order(id: u64) -> Value {
    json!({
        "id": id, "name": format!("#{id}"), "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-01T10:00:00Z", "currency": "USD", "total_price": "10.00",
        "subtotal_price": "10.00", "financial_status": "paid", "fulfillment_status": null,
        "line_items": [{"id": id * 10, "product_id": 1, "variant_id": 10, "title": "Tee",
                        "sku": "TEE", "quantity": 1, "price": "10.00"}]
    })
}

async fn run_job(app: &TestApp, path: &str, ct: &str, body: String) -> Value {
    let resp = app
        .client
        .http()
        .post(app.client.url(path))
        .bearer_auth(app.owner())
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let accepted = Client::read(resp).await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    let location = accepted.header("location").unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // The caller just wrote (the POST), so it reads its job from the primary.
        let r = app.client.get(&location, Some(app.owner())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(read_from(&r), "primary");
        match r.body["status"].as_str() {
            Some("completed") => return r.body["result"].clone(),
            Some("discarded") | Some("cancelled") => panic!("job failed: {}", r.text),
            _ => {}
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_report_reads_the_primary_right_after_its_organization_imported_and_the_replica_later() {
    let lag = Arc::new(ControlledLag(Mutex::new(Ok(Duration::from_millis(200)))));
    let Some((app, _replica)) = primary_with_replica(lag.clone()).await else {
        return;
    };
    app.state.platform().reads.refresh().await;
    let body = (1..=3)
        .map(|i| order(i).to_string() + "\n")
        .collect::<String>();
    run_job(
        &app,
        "/v1/data/imports?kind=orders",
        "application/x-ndjson",
        body,
    )
    .await;
    let process = json!({"operation": "orders_summary",
                         "period": {"from": "2026-03-01", "to": "2026-03-31"}})
    .to_string();
    // Right after the import: the primary, which has the three orders.
    let s = run_job(
        &app,
        "/v1/data/process",
        "application/json",
        process.clone(),
    )
    .await;
    assert_eq!(s["total_orders"], 3, "{s}");
    // After lag + poll the replica is trusted with the organization's data (here: empty).
    app.clock.advance(Duration::from_millis(1_201));
    app.state.platform().reads.refresh().await;
    let s = run_job(&app, "/v1/data/process", "application/json", process).await;
    assert_eq!(s["total_orders"], 0, "{s}");
}

#[tokio::test]
async fn the_replica_lag_query_refuses_a_server_that_is_not_a_standby() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    let db = conea_store::db::connect(&db_config(&schema.url()))
        .await
        .unwrap();
    let source = conea_store::replica::PgReplicaLag::new(db);
    let err = source.lag().await.unwrap_err();
    assert!(err.contains("not a standby"), "{err}");
}

#[tokio::test]
async fn with_redis_a_write_through_one_conea_replica_sends_the_clients_reads_through_another_to_the_primary(
) {
    let Some(redis) = conea_testkit::redis_url() else {
        return;
    };
    let prefix = format!("test-reads-{}:", uuid_like());
    let extra = [
        ("REDIS_URL", redis.as_str()),
        ("CONEA_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let lag = Arc::new(ControlledLag(Mutex::new(Ok(Duration::from_millis(300)))));
    let Some((a, replica)) = primary_with_replica_and(lag.clone(), &extra).await else {
        return;
    };
    let b = second_replica(&a, &replica, lag.clone(), &extra).await;
    a.state.platform().reads.refresh().await;
    b.state.platform().reads.refresh().await;
    let owner = a.owner().to_owned();
    assert_eq!(keys(&b, &owner).await, ("replica".into(), 0));
    let created = a
        .client
        .post(
            "/v1/api-keys",
            Some(&owner),
            json!({"name": "x", "permissions": ["keys:manage"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // Written through A, read through B: B knows from Redis and reads the primary.
    assert_eq!(keys(&b, &owner).await, ("primary".into(), 2));
    a.clock.advance(Duration::from_millis(1_301));
    b.state.platform().reads.refresh().await;
    assert_eq!(keys(&b, &owner).await, ("replica".into(), 0));
}

#[allow(clippy::disallowed_methods)] // a name unique across test runs, not domain time
fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

#[tokio::test]
async fn a_report_right_after_a_shopify_webhook_reads_the_primary() {
    let lag = Arc::new(ControlledLag(Mutex::new(Ok(Duration::from_millis(200)))));
    // Connecting checks the token against the (fake) shop.
    let fake = FakeShopify::start(FakeClock::starting_now(), Counts::of(0)).await;
    let Some((app, _replica)) =
        primary_with_replica_and(lag.clone(), &[("SHOPIFY_BASE_URL", &fake.base_url)]).await
    else {
        return;
    };
    let secret = "shpss_replica_test_secret";
    let domain = fake_shopify::SHOP;
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            json!({"shop_domain": domain, "access_token": fake_shopify::TOKEN, "api_secret": secret}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.state.platform().reads.refresh().await;
    // A signed orders/create delivery (no API key: the request itself marks nobody).
    let body = order(7).to_string();
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("content-type", "application/json")
        .header(
            "X-Shopify-Hmac-Sha256",
            conea_shopify::sign(body.as_bytes(), secret),
        )
        .header("X-Shopify-Shop-Domain", domain)
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Webhook-Id", "wh-replica-1")
        .header("X-Shopify-Event-Id", "ev-replica-1")
        .header("X-Shopify-API-Version", "2026-10")
        .body(body)
        .send()
        .await
        .unwrap();
    let receipt = Client::read(resp).await;
    assert_eq!(receipt.status, 200, "{}", receipt.text);
    let job_id = receipt.body["job_id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app.state.platform().jobs.get_any(&job_id).await.unwrap();
        if job.state.is_final() {
            assert_eq!(job.state.as_str(), "completed", "{job:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{job:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The webhook job marked the organization's shop data: the report reads the primary.
    let process = json!({"operation": "orders_summary",
                         "period": {"from": "2026-03-01", "to": "2026-03-31"}})
    .to_string();
    let s = run_job(&app, "/v1/data/process", "application/json", process).await;
    assert_eq!(s["total_orders"], 1, "{s}");
}

/// The `conea_*` series a PromQL expression reads, by metric family name (a histogram's
/// `_bucket`/`_sum`/`_count` and a counter's `_total` belong to their family).
fn families_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in expr.match_indices("conea_") {
        if i > 0 && expr[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = expr[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_owned();
        out.push(family);
    }
    out
}

/// Replica lag is exported only while a replica is configured: this is the app that has one.
#[tokio::test]
async fn every_metric_the_helm_alerts_and_the_grafana_dashboard_query_is_exported() {
    let lag = Arc::new(ControlledLag(Mutex::new(Ok(Duration::from_millis(200)))));
    let Some((app, _replica)) = primary_with_replica(lag.clone()).await else {
        return;
    };
    app.state.platform().reads.refresh().await;
    // What the server's background refresh does every 5 s (not started in tests).
    let stats = app.state.platform().jobs.stats().await.unwrap();
    app.state.metrics().set_queue_stats(stats);
    let metrics = app.client.get("/metrics", None).await.text;
    let exported: Vec<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let rules =
        std::fs::read_to_string(deploy.join("helm/conea/templates/prometheusrule.yaml")).unwrap();
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy.join("grafana/conea.json")).unwrap())
            .unwrap();
    let mut queried: Vec<(String, String)> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(|e| ("PrometheusRule".to_owned(), e.to_owned()))
        .collect();
    assert_eq!(queried.len(), 8, "one expression per alert");
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap().to_owned();
            queried.push((title, target["expr"].as_str().unwrap().to_owned()));
        }
    }
    let mut missing = Vec::new();
    for (from, expr) in &queried {
        let families = families_in(expr);
        assert!(!families.is_empty(), "{from} reads a Conea metric: {expr}");
        for family in families {
            if !exported.contains(&family.as_str()) {
                missing.push(format!("{from}: {family} in {expr}"));
            }
        }
    }
    assert!(missing.is_empty(), "not exported: {missing:#?}\n{metrics}");
    assert!(families_in("rate(conea_made_up_total[5m])") == ["conea_made_up"]);
}
