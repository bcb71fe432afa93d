//! A Shopify shop's settings and what Shopify tells about them, through the running
//! application and the fake Shopify: the API version Shopify flags as deprecated
//! (`X-Shopify-API-Deprecated-Reason`) recorded on the shop and shown in `/health` as a
//! warning until the shop moves to another version; the shop's own sync interval (set on
//! connect and by PATCH, validated, used by the scheduler); the `bulk_operations/finish`
//! webhook waking a sync that waits for its bulk operation; reconciliation (an order deleted
//! at Shopify without a webhook is removed, a missing one fetched). SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::Clock;
use conea_testkit::fake_shopify::{self as fake, Counts, FakeShopify};
use conea_testkit::{backend_tests, Backend, TestApp};
use serde_json::json;
use std::time::Duration;

const DOMAIN: &str = "fake-shop.myshopify.com";
const SHOPS: &str = "/v1/integrations/shopify/shops";
/// What Shopify sends for a deprecated version on REST (and GraphQL before 2025-04).
const REASON: &str = "https://shopify.dev/api/usage/versioning#deprecation-practices";

struct App {
    app: TestApp,
    fake: FakeShopify,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

async fn app_with(b: Backend, extra: &[(&str, &str)]) -> Option<App> {
    app_bulk(b, "off", extra).await
}

async fn app_bulk(b: Backend, threshold: &str, extra: &[(&str, &str)]) -> Option<App> {
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), Counts::of(20)).await;
    let mut overrides = vec![
        ("CONEA_JOB_LEASE", "1h"),
        ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
        ("SHOPIFY_BULK_THRESHOLD", threshold),
    ];
    overrides.extend_from_slice(extra);
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(db, &overrides, clock).await;
    Some(App { app, fake })
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
        sql
    )
    .fetch_one(p)
    .await
    .unwrap())
}

async fn sync_jobs(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.sync'").await
}

/// Runs the shop's sync now and waits for its job.
async fn sync(app: &TestApp, id: &str) {
    let r = app
        .client
        .post(&format!("{SHOPS}/{id}/sync"), Some(app.owner()), json!({}))
        .await;
    app.job_result(&r).await;
}

async fn health(app: &TestApp) -> serde_json::Value {
    let r = app.client.get("/health", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

backend_tests!(
    a_deprecated_api_version_is_recorded_on_the_shop_and_warned_in_health_until_the_shop_moves,
    a_shops_own_sync_interval_is_validated_shown_and_drives_the_scheduler,
    the_bulk_operations_finish_webhook_wakes_the_waiting_sync_and_polling_stays_the_fallback,
    reconciliation_removes_what_shopify_deleted_without_a_webhook_and_fetches_what_is_missing,
);

async fn a_deprecated_api_version_is_recorded_on_the_shop_and_warned_in_health_until_the_shop_moves(
    b: Backend,
) {
    let Some(app) = app_with(b, &[]).await else {
        return;
    };
    app.fake.deprecate_version("2025-01", REASON);
    let r = app
        .client
        .post(
            SHOPS,
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "s",
                   "api_version": "2025-01"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["api_deprecation"], json!(null));
    let before = health(&app).await;
    assert_eq!(before["checks"]["shopify_api_version"]["status"], "ok");
    assert_eq!(
        before["checks"]["shopify_api_version"]["configured"],
        "2026-10"
    );

    // A sync's answers carry the header: the shop records it.
    sync(&app, &id).await;
    let shop = app
        .client
        .get(&format!("{SHOPS}/{id}"), Some(app.owner()))
        .await;
    let notice = &shop.body["api_deprecation"];
    assert_eq!(notice["reason"], REASON, "{}", shop.text);
    assert_eq!(notice["api_version"], "2025-01");
    assert!(
        notice["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("/admin/api/2025-01/"),
        "{notice}"
    );
    assert!(notice["seen_at"].is_string());

    // /health: a warning component naming the shop and the fix; the verdict stays `ok`.
    let h = health(&app).await;
    let versions = &h["checks"]["shopify_api_version"];
    assert_eq!(versions["status"], "warning", "{h}");
    assert_eq!(h["status"], "ok", "a deprecation is not an outage: {h}");
    assert_eq!(versions["deprecated"][0]["shop_id"], id.as_str());
    assert_eq!(versions["deprecated"][0]["reason"], REASON);
    assert!(versions["fix"]
        .as_str()
        .unwrap()
        .contains("SHOPIFY_API_VERSION"));

    // A bad version names the field; a good one moves the shop, and the warning goes.
    let bad = app
        .client
        .patch(
            &format!("{SHOPS}/{id}"),
            Some(app.owner()),
            json!({"api_version": "2026-13"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.body["error"]["details"]["param"], "api_version");
    let moved = app
        .client
        .patch(
            &format!("{SHOPS}/{id}"),
            Some(app.owner()),
            json!({"api_version": "2026-10"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["api_version"], "2026-10");
    assert_eq!(moved.body["api_deprecation"], json!(null));
    let after = health(&app).await;
    assert_eq!(after["checks"]["shopify_api_version"]["status"], "ok");
    assert_eq!(
        after["checks"]["shopify_api_version"]["deprecated"],
        json!([])
    );
    // The version in use is not deprecated: its sync records nothing.
    sync(&app, &id).await;
    let shop = app
        .client
        .get(&format!("{SHOPS}/{id}"), Some(app.owner()))
        .await;
    assert_eq!(shop.body["api_deprecation"], json!(null), "{}", shop.text);
    assert!(app
        .fake
        .log()
        .iter()
        .any(|l| l.starts_with("GET products.json")));
}

async fn a_shops_own_sync_interval_is_validated_shown_and_drives_the_scheduler(b: Backend) {
    let Some(app) = app_with(b, &[("SHOPIFY_SYNC_INTERVAL", "15m")]).await else {
        return;
    };
    let connect = |interval: serde_json::Value| {
        json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "s",
               "sync_interval": interval})
    };
    for bad in ["30s", "0m", "15", "1w", "5 m"] {
        let r = app
            .client
            .post(SHOPS, Some(app.owner()), connect(json!(bad)))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(
            r.body["error"]["details"]["param"], "sync_interval",
            "{bad}"
        );
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM shopify_shops").await,
        0,
        "nothing stored"
    );
    let r = app
        .client
        .post(SHOPS, Some(app.owner()), connect(json!("2h")))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["sync_interval"], "2h");
    assert_eq!(r.body["sync_interval_source"], "shop");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("{SHOPS}/{id}");
    sync(&app, &id).await;

    // The shop's 2 hours, not the server's 15 minutes.
    let shopify = app.state.platform().shopify.clone();
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(shopify.tick_syncs().await.unwrap(), 0);
    assert_eq!(sync_jobs(&app).await, 1);

    // PATCH: too short names the field and changes nothing; 1 minute applies from the
    // last sync, so the shop is due at once.
    let short = app
        .client
        .patch(&path, Some(app.owner()), json!({"sync_interval": "59s"}))
        .await;
    assert_eq!(short.status, 400, "{}", short.text);
    assert_eq!(short.body["error"]["details"]["param"], "sync_interval");
    assert_eq!(
        app.client.get(&path, Some(app.owner())).await.body["sync_interval"],
        "2h"
    );
    let r = app
        .client
        .patch(&path, Some(app.owner()), json!({"sync_interval": "1m"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sync_interval"], "1m");
    assert_eq!(shopify.tick_syncs().await.unwrap(), 1);
    assert_eq!(sync_jobs(&app).await, 2);

    // `default`: the server's interval again, shown as such.
    let r = app
        .client
        .patch(
            &path,
            Some(app.owner()),
            json!({"sync_interval": "default"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["sync_interval"], "15m");
    assert_eq!(r.body["sync_interval_source"], "server");
    let listed = app.client.get(SHOPS, Some(app.owner())).await;
    assert_eq!(listed.body["data"][0]["sync_interval"], "15m");
}

/// Waits (real time, bounded) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Posts a webhook as Shopify does: the raw body signed with the app's secret.
async fn post_webhook(
    app: &TestApp,
    topic: &str,
    event: &str,
    body: &serde_json::Value,
) -> conea_testkit::Resp {
    let body = body.to_string();
    let r = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("content-type", "application/json")
        .header(
            "X-Shopify-Hmac-Sha256",
            conea_shopify::sign(body.as_bytes(), "shpss_bulk"),
        )
        .header("X-Shopify-Shop-Domain", DOMAIN)
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Webhook-Id", format!("wh-{event}"))
        .header("X-Shopify-Event-Id", event)
        .header("X-Shopify-API-Version", "2026-10")
        .header("X-Shopify-Triggered-At", "2026-12-04T21:00:05Z")
        .body(body)
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(r).await
}

async fn the_bulk_operations_finish_webhook_wakes_the_waiting_sync_and_polling_stays_the_fallback(
    b: Backend,
) {
    let Some(app) = app_bulk(b, "10000", &[]).await else {
        return;
    };
    // Each operation stays RUNNING until the test ends it, and time passes only when the
    // test moves the clock: a sync that goes on did so because something woke it.
    app.fake.hold_bulks();
    let r = app
        .client
        .post(
            SHOPS,
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "shpss_bulk"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .client
        .post(&format!("{SHOPS}/{id}/sync"), Some(app.owner()), json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    let started = app.clock.now_ms();

    // Products and customers: their operation ends and Shopify's webhook says so; the sync
    // reads the file at once, without waiting for its next poll.
    for n in 1..=2 {
        until("the sync checks its bulk operation", || {
            app.fake.bulk_checks(n) >= 1
        })
        .await;
        assert_eq!(app.fake.bulk_checks(n), 1, "still running, checked once");
        let (gid, _) = app.fake.finish_bulk(n);
        let body = FakeShopify::bulk_finish_payload(&gid);
        let r = post_webhook(
            &app,
            "bulk_operations/finish",
            &format!("evt-bulk-{n}"),
            &body,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["job_id"].is_string(), "{}", r.text);
        until("the next operation starts", || {
            app.fake.bulk_operations() > n
        })
        .await;
        assert_eq!(
            app.fake.bulk_checks(n),
            2,
            "one check before the webhook, one after: no poll interval passed"
        );
    }
    assert_eq!(app.clock.now_ms(), started, "the clock never moved");

    // Orders: no webhook (it went to another replica, or was lost): the poll finds the end
    // once its interval passed.
    until("the sync checks the orders operation", || {
        app.fake.bulk_checks(3) >= 1
    })
    .await;
    app.fake.finish_bulk(3);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = app.state.platform().jobs.get_any(&job_id).await.unwrap();
        if job.state.is_final() {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sync never ended: {job:?}"
        );
        app.clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(job.state, conea_jobs::JobState::Completed, "{job:?}");
    let result = job.result.unwrap();
    for kind in ["products", "customers", "orders"] {
        assert_eq!(result[kind]["inserted"], 20, "{kind}: {result}");
    }
    assert_eq!(app.fake.bulk_operations(), 3);
}

async fn scalar(app: &TestApp, sql: &str, shop: &str) -> i64 {
    conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
        sql
    )
    .bind(shop)
    .fetch_one(p)
    .await
    .unwrap())
}

async fn reconciliation_removes_what_shopify_deleted_without_a_webhook_and_fetches_what_is_missing(
    b: Backend,
) {
    let Some(app) = app_with(b, &[("SHOPIFY_RECONCILE_INTERVAL", "24h")]).await else {
        return;
    };
    let r = app
        .client
        .post(
            SHOPS,
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "s"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["reconciliation"], json!(null));
    sync(&app, &id).await;
    let orders = "SELECT COUNT(*) FROM orders WHERE shop_id = $1";
    assert_eq!(scalar(&app, orders, &id).await, 20);

    // The merchant deletes order #1004 and its `orders/delete` webhook never comes; order
    // #1008 never reached Conea.
    let (deleted, missing) = (5_000_000_003i64, 5_000_000_007i64);
    app.fake.delete_object(deleted as u64);
    let line_items = format!(
        "SELECT COUNT(*) FROM order_line_items WHERE shop_id = $1 AND order_source_id = {missing}"
    );
    conea_store::with_pool!(app.state.store().db(), |p| {
        for sql in [
            format!(
                "DELETE FROM order_line_items WHERE shop_id = $1 AND order_source_id = {missing}"
            ),
            format!("DELETE FROM orders WHERE shop_id = $1 AND source_id = {missing}"),
        ] {
            sqlx::query::<DB>(&sql).bind(&id).execute(p).await.unwrap();
        }
    });
    assert_eq!(scalar(&app, &line_items, &id).await, 0);

    let before = app.fake.requests();
    let r = app
        .client
        .post(
            &format!("{SHOPS}/{id}/reconcile"),
            Some(app.owner()),
            json!({}),
        )
        .await;
    let result = app.job_result(&r).await;
    assert_eq!(
        result["orders"],
        json!({"checked": 19, "removed": 1, "fetched": 1}),
        "{result}"
    );
    for kind in ["products", "customers"] {
        assert_eq!(
            result[kind],
            json!({"checked": 20, "removed": 0, "fetched": 0}),
            "{kind}: {result}"
        );
    }
    let exists = |source: i64| {
        format!("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND source_id = {source}")
    };
    assert_eq!(scalar(&app, &exists(deleted), &id).await, 0, "removed");
    assert_eq!(
        scalar(
            &app,
            &format!("SELECT COUNT(*) FROM order_line_items WHERE shop_id = $1 AND order_source_id = {deleted}"),
            &id
        )
        .await,
        0,
        "with its line items"
    );
    assert_eq!(scalar(&app, &exists(missing), &id).await, 1, "fetched");
    assert_eq!(
        scalar(&app, &line_items, &id).await,
        1,
        "with its line items"
    );
    assert_eq!(scalar(&app, orders, &id).await, 19);
    // Ids by pages of `fields=id`, and the one missing object by its id.
    let log = app.fake.log()[before..].to_vec();
    assert!(
        log.contains(&"GET orders.json?fields=id&limit=250&status=any".to_owned()),
        "{log:?}"
    );
    assert!(
        log.contains(&format!("GET orders/{missing}.json?")),
        "{log:?}"
    );
    let shop = app
        .client
        .get(&format!("{SHOPS}/{id}"), Some(app.owner()))
        .await;
    let counts = &shop.body["reconciliation"];
    assert_eq!(
        (&counts["checked"], &counts["removed"], &counts["fetched"]),
        (&json!(59), &json!(1), &json!(1)),
        "{}",
        shop.text
    );
    assert!(counts["at"].is_string());

    // Nightly: the next one is due a day after this one.
    let shopify = app.state.platform().shopify.clone();
    app.clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(shopify.tick_reconciles().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(shopify.tick_reconciles().await.unwrap(), 1);
    assert_eq!(shopify.tick_reconciles().await.unwrap(), 0, "claimed once");
}
