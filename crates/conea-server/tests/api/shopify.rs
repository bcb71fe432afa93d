//! Shopify through the running application: connecting shops (secrets encrypted, never
//! returned, 404 across organizations), the webhook receiver (HMAC with rotation, 401s,
//! duplicates, stored and enqueued together), the topic jobs (out-of-order updates,
//! deletions, compliance erasure, uninstall) and the sync job against the fake Shopify
//! (no 429s, resumable, incremental, 401 → unauthorized). SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_jobs::{Job, JobState};
use conea_shopify::sign;
use conea_testkit::fake_shopify::{self as fake, Counts, FakeShopify};
use conea_testkit::{backend_tests, Backend, Resp, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const DOMAIN: &str = "fake-shop.myshopify.com";
const SECRET: &str = "shpss_current_secret";
const OLD_SECRET: &str = "shpss_previous_secret";

/// The app with the fake Shopify it checks tokens against (connecting asks `shop.json`).
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

async fn app(b: Backend) -> Option<App> {
    app_with(b, &[]).await
}

async fn app_with(b: Backend, extra: &[(&str, &str)]) -> Option<App> {
    // A long lease: the fake clock jumps while a sync waits for Shopify's bucket.
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), Counts::of(0)).await;
    let mut overrides = vec![
        ("CONEA_JOB_LEASE", "1h"),
        ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
        // These tests pin the paged sync; bulk syncs have their own.
        ("SHOPIFY_BULK_THRESHOLD", "off"),
    ];
    overrides.extend_from_slice(extra);
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(db, &overrides, clock).await;
    Some(App { app, fake })
}

async fn connect(app: &TestApp, key: &str, domain: &str) -> Resp {
    app.client
        .post(
            "/v1/integrations/shopify/shops",
            Some(key),
            json!({
                "shop_domain": domain,
                "access_token": fake::TOKEN,
                "api_secret": SECRET,
                "previous_api_secret": OLD_SECRET,
            }),
        )
        .await
}

async fn connected(app: &TestApp) -> String {
    let r = connect(app, app.owner(), DOMAIN).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

struct Delivery<'a> {
    topic: &'a str,
    event_id: &'a str,
    body: Value,
}

async fn post_webhook_signed(app: &TestApp, d: &Delivery<'_>, secret: &str) -> Resp {
    let body = d.body.to_string();
    let hmac = sign(body.as_bytes(), secret);
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("content-type", "application/json")
        .header("X-Shopify-Hmac-Sha256", hmac)
        .header("X-Shopify-Shop-Domain", DOMAIN)
        .header("X-Shopify-Topic", d.topic)
        .header("X-Shopify-Webhook-Id", format!("wh-{}", d.event_id))
        .header("X-Shopify-Event-Id", d.event_id)
        .header("X-Shopify-API-Version", "2026-10")
        .header("X-Shopify-Triggered-At", "2026-11-28T10:00:00Z")
        .body(body)
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(resp).await
}

async fn post_webhook(app: &TestApp, d: &Delivery<'_>) -> Resp {
    post_webhook_signed(app, d, SECRET).await
}

/// Posts a delivery and waits for its job to finish; returns the job.
async fn deliver(app: &TestApp, d: Delivery<'_>) -> Job {
    let r = post_webhook(app, &d).await;
    assert_eq!(r.status, 200, "{}", r.text);
    wait_final(app, r.body["job_id"].as_str().unwrap()).await
}

async fn wait_final(app: &TestApp, id: &str) -> Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app.state.platform().jobs.get_any(id).await.unwrap();
        if job.state.is_final() {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} never finished: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

async fn get_shop(app: &TestApp, shop: &str) -> Resp {
    let path = format!("/v1/integrations/shopify/shops/{shop}");
    app.client.get(&path, Some(app.owner())).await
}

async fn disconnect(app: &TestApp, shop: &str) -> Resp {
    let path = format!("/v1/integrations/shopify/shops/{shop}");
    app.client.delete(&path, Some(app.owner())).await
}

async fn execute(app: &TestApp, sql: &str, shop: &str) {
    conea_store::with_pool!(app.state.store().db(), |p| sqlx::query::<DB>(sql)
        .bind(shop)
        .execute(p)
        .await
        .unwrap()
        .rows_affected());
}

async fn text(app: &TestApp, sql: &str, shop: &str) -> Option<String> {
    conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<
        DB,
        Option<String>,
    >(sql)
    .bind(shop)
    .fetch_one(p)
    .await
    .unwrap())
}

fn product(id: i64, title: &str, updated_at: &str) -> Value {
    json!({"id": id, "title": title, "status": "active", "updated_at": updated_at,
           "variants": [{"id": id * 10, "title": "Default Title", "price": "29.99", "sku": "SKU"}]})
}

fn customer(id: i64, email: &str) -> Value {
    json!({"id": id, "email": email, "first_name": "Ada", "last_name": "Lovelace",
           "orders_count": 1, "total_spent": "59.97",
           "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:00:00Z"})
}

fn order(id: i64, customer_id: i64, email: &str) -> Value {
    json!({"id": id, "name": "#1001", "email": email, "currency": "EUR",
           "total_price": "59.97", "subtotal_price": "59.97", "financial_status": "paid",
           "created_at": "2026-01-02T10:00:00Z", "updated_at": "2026-01-02T10:00:00Z",
           "customer": {"id": customer_id, "email": email},
           "line_items": [{"id": id * 10, "product_id": 1, "variant_id": 10, "title": "T-Shirt",
                           "sku": "SKU", "quantity": 3, "price": "19.99"}]})
}

/// The shop object Shopify sends with `app/uninstalled` (and `shop/update`).
fn shop_object() -> Value {
    json!({"id": 548380009, "name": "Fake Shop", "email": "owner@example.com",
           "domain": null, "myshopify_domain": DOMAIN, "plan_name": "basic"})
}

async fn second_org_key(app: &TestApp) -> String {
    let acme = app
        .client
        .post(
            "/v1/organizations",
            Some(app.owner()),
            json!({"slug": "acme"}),
        )
        .await;
    let acme_id = OrgId::parse(acme.body["id"].as_str().unwrap()).unwrap();
    app.state
        .accounts()
        .create_key(
            None,
            &acme_id,
            "acme",
            [Permission::IntegrationsManage].into_iter().collect(),
            None,
        )
        .await
        .unwrap()
        .secret
}

backend_tests!(
    connected_shop_keeps_its_secrets_encrypted_and_never_returns_them,
    invalid_domain_names_the_field_and_other_organizations_get_404,
    signed_webhook_is_stored_with_its_job_and_a_duplicate_makes_no_second_job,
    bad_signature_or_unknown_shop_answers_401_with_the_error_body_and_is_counted,
    webhooks_are_rate_limited_per_client_address_apart_from_login,
    out_of_order_product_updates_never_overwrite_the_newer_version,
    delete_topics_and_app_uninstalled_are_applied,
    compliance_topics_return_then_erase_the_customers_data_and_the_shops,
    signed_body_replayed_under_another_topic_answers_200_is_counted_and_erases_nothing,
    customer_redaction_erases_only_the_customer_and_orders_it_names,
    a_shop_update_body_replayed_as_app_uninstalled_changes_nothing_while_shopify_accepts_the_token,
    a_products_delete_body_replayed_as_orders_delete_erases_nothing_while_shopify_still_has_the_order,
    a_shop_is_connected_only_with_a_token_it_accepts_and_each_organization_gets_its_own_connection,
    full_sync_gets_no_429_then_runs_incrementally,
    syncing_10000_products_takes_within_10_percent_of_the_leak_rate_minimum,
    sync_refused_by_shopify_marks_the_shop_unauthorized_and_resumes_from_its_cursor,
    refresh_upserts_a_found_object_and_deletes_one_shopify_answers_404_for,
    refresh_refuses_bad_input_and_inactive_shops,
    first_sync_runs_as_a_bulk_operation_and_a_download_cut_mid_file_resumes_without_duplicates,
    incremental_sync_goes_in_bulk_only_above_the_threshold,
);

async fn connected_shop_keeps_its_secrets_encrypted_and_never_returns_them(b: Backend) {
    let Some(app) = app(b).await else { return };
    let r = connect(&app, app.owner(), "Fake-Shop.myshopify.com").await;
    assert_eq!(r.status, 201, "{}", r.text);
    for secret in [fake::TOKEN, SECRET, OLD_SECRET] {
        assert!(
            !r.text.contains(secret),
            "secret in the response: {}",
            r.text
        );
    }
    assert_eq!(r.body["shop_domain"], DOMAIN);
    assert_eq!(r.body["status"], "active");
    assert_eq!(
        r.body["api_version"], "2026-10",
        "SHOPIFY_API_VERSION default"
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("shop_"));

    let sql = "SELECT access_token || api_secret || previous_api_secret FROM shopify_shops WHERE shop_id = $1";
    let stored = text(&app, sql, &id).await.unwrap();
    for secret in [fake::TOKEN, SECRET, OLD_SECRET] {
        assert!(!stored.contains(secret), "plaintext at rest");
    }
    assert!(stored.starts_with("v1:"));

    let list = app
        .client
        .get("/v1/integrations/shopify/shops", Some(app.owner()))
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"][0]["id"], id.as_str());
    assert!(!list.text.contains(fake::TOKEN) && !list.text.contains(SECRET));

    // Connected twice: refused while active.
    connect(&app, app.owner(), DOMAIN)
        .await
        .assert_error(409, "shop_already_connected");

    // Disconnected: secrets erased, webhooks refused, and it can be connected again.
    let del = disconnect(&app, &id).await;
    assert_eq!(del.status, 204, "{}", del.text);
    assert_eq!(text(&app, sql, &id).await, None, "credentials erased");
    let got = get_shop(&app, &id).await;
    assert_eq!(got.body["status"], "disconnected");
    post_webhook(
        &app,
        &Delivery {
            topic: "products/update",
            event_id: "e-after-disconnect",
            body: product(1, "x", "2026-01-01T00:00:00Z"),
        },
    )
    .await
    .assert_error(401, "unknown_shop");
    let again = connect(&app, app.owner(), DOMAIN).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["id"], id.as_str(), "the same shop, re-activated");
    assert_eq!(again.body["status"], "active");
}

async fn invalid_domain_names_the_field_and_other_organizations_get_404(b: Backend) {
    let Some(app) = app(b).await else { return };
    for bad in ["evil.com", "x.myshopify.com.evil.test", "-x.myshopify.com"] {
        let r = connect(&app, app.owner(), bad).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.body["error"]["details"]["param"], "shop_domain");
    }
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": "t", "api_secret": "s", "api_version": "2026-13"}),
        )
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "api_version");

    let id = connected(&app).await;
    let acme = second_org_key(&app).await;
    for path in [
        format!("/v1/integrations/shopify/shops/{id}"),
        "/v1/integrations/shopify/shops/shop_00000000000000000000000000000000".to_owned(),
    ] {
        app.client
            .get(&path, Some(&acme))
            .await
            .assert_error(404, "not_found");
    }
    app.client
        .delete(&format!("/v1/integrations/shopify/shops/{id}"), Some(&acme))
        .await
        .assert_error(404, "not_found");
    app.client
        .post(
            &format!("/v1/integrations/shopify/shops/{id}/sync"),
            Some(&acme),
            json!({}),
        )
        .await
        .assert_error(404, "not_found");
    let list = app
        .client
        .get("/v1/integrations/shopify/shops", Some(&acme))
        .await;
    assert_eq!(list.body["data"], json!([]));
    // Another organization with a valid token gets its own connection.
    let theirs = connect(&app, &acme, DOMAIN).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    assert_ne!(theirs.body["id"], id.as_str());
}

async fn signed_webhook_is_stored_with_its_job_and_a_duplicate_makes_no_second_job(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let d = Delivery {
        topic: "products/update",
        event_id: "evt-1",
        body: product(9554194432293, "T-Shirt", "2026-04-22T14:30:00-05:00"),
    };
    let first = post_webhook(&app, &d).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["created"], true);
    let job_id = first.body["job_id"].as_str().unwrap().to_owned();
    let again = post_webhook(&app, &d).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["created"], false, "duplicate");
    assert_eq!(again.body["job_id"], job_id.as_str(), "no second job");
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.webhook' AND $1 <> ''",
            &shop
        )
        .await,
        1,
        "one job for the two deliveries"
    );

    let job = wait_final(&app, &job_id).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(job.kind, "shopify.webhook");
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM products WHERE shop_id = $1",
            &shop
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1 AND processed_at IS NOT NULL",
            &shop
        )
        .await,
        1
    );

    // Signed with the previous secret (rotation): accepted. Unprefixed header names too.
    let rotated = Delivery {
        topic: "products/update",
        event_id: "evt-2",
        body: product(2, "Rotated", "2026-04-22T14:30:00Z"),
    };
    let r = post_webhook_signed(&app, &rotated, OLD_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = product(3, "Unprefixed", "2026-04-22T14:30:00Z").to_string();
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("shopify-hmac-sha256", sign(body.as_bytes(), SECRET))
        .header("shopify-shop-domain", DOMAIN)
        .header("shopify-topic", "products/create")
        .header("shopify-event-id", "evt-3")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let shown = get_shop(&app, &shop).await;
    assert_eq!(
        shown.body["webhooks_received"], 3,
        "stored deliveries, the duplicate not counted: {}",
        shown.text
    );
    assert!(shown.body["last_webhook_at"].is_string());
    assert_eq!(shown.body["webhooks_rejected"], 0);
    let metrics = app.client.get("/metrics", None).await.text;
    assert!(
        metrics.contains("conea_shopify_webhooks_total{outcome=\"accepted\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("conea_shopify_webhooks_total{outcome=\"duplicate\"} 1"));
    // Processed deliveries older than the retention are pruned; newer ones stay.
    let store = app.state.platform().shopify.store().clone();
    let now = conea_core::Clock::now_ms(&app.clock);
    assert_eq!(store.prune_deliveries(now - 1_000).await.unwrap(), 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while scalar(
        &app,
        "SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1 AND processed_at IS NULL",
        &shop,
    )
    .await
        > 0
    {
        assert!(std::time::Instant::now() < deadline, "deliveries never processed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.prune_deliveries(now + 1).await.unwrap(), 3);
}

async fn bad_signature_or_unknown_shop_answers_401_with_the_error_body_and_is_counted(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let d = Delivery {
        topic: "orders/create",
        event_id: "evt-bad",
        body: order(1, 2, "a@example.com"),
    };
    post_webhook_signed(&app, &d, "not-the-secret")
        .await
        .assert_error(401, "invalid_webhook_signature");
    // A body altered after signing.
    let signed = sign(d.body.to_string().as_bytes(), SECRET);
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("X-Shopify-Hmac-Sha256", signed)
        .header("X-Shopify-Shop-Domain", DOMAIN)
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Webhook-Id", "wh-tampered")
        .body(format!("{} ", d.body))
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(resp)
        .await
        .assert_error(401, "invalid_webhook_signature");
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("X-Shopify-Hmac-Sha256", sign(b"{}", SECRET))
        .header("X-Shopify-Shop-Domain", "other-shop.myshopify.com")
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Webhook-Id", "wh-unknown")
        .body("{}")
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(resp)
        .await
        .assert_error(401, "unknown_shop");
    let resp = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("X-Shopify-Shop-Domain", DOMAIN)
        .header("X-Shopify-Topic", "orders/create")
        .body("{}")
        .send()
        .await
        .unwrap();
    conea_testkit::Client::read(resp)
        .await
        .assert_error(400, "invalid_parameter");

    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1",
            &shop
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.webhook' AND $1 <> ''",
            &shop
        )
        .await,
        0
    );
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["webhooks_rejected"], 2, "{}", shown.text);
    let metrics = app.client.get("/metrics", None).await.text;
    assert!(metrics.contains("conea_shopify_webhooks_total{outcome=\"invalid_signature\"} 2"));
    assert!(metrics.contains("conea_shopify_webhooks_total{outcome=\"unknown_shop\"} 1"));
}

async fn out_of_order_product_updates_never_overwrite_the_newer_version(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let v2 = deliver(
        &app,
        Delivery {
            topic: "products/update",
            event_id: "v2",
            body: product(42, "Version 2", "2026-05-02T00:00:00Z"),
        },
    )
    .await;
    assert_eq!(v2.state, JobState::Completed, "{v2:?}");
    let v1 = deliver(
        &app,
        Delivery {
            topic: "products/update",
            event_id: "v1",
            body: product(42, "Version 1", "2026-05-01T00:00:00Z"),
        },
    )
    .await;
    assert_eq!(v1.state, JobState::Completed, "{v1:?}");
    assert_eq!(v1.result.as_ref().unwrap()["upsert"]["skipped"], 1);
    assert_eq!(
        text(
            &app,
            "SELECT title FROM products WHERE shop_id = $1 AND source_id = 42",
            &shop
        )
        .await
        .as_deref(),
        Some("Version 2")
    );
}

async fn delete_topics_and_app_uninstalled_are_applied(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    for (topic, event, body) in [
        (
            "products/create",
            "p-create",
            product(7, "Doomed", "2026-05-01T00:00:00Z"),
        ),
        (
            "customers/create",
            "c-create",
            customer(8, "gone@example.com"),
        ),
        ("orders/create", "o-create", order(9, 8, "gone@example.com")),
    ] {
        let created = deliver(
            &app,
            Delivery {
                topic,
                event_id: event,
                body,
            },
        )
        .await;
        assert_eq!(created.state, JobState::Completed, "{created:?}");
    }
    for (topic, event, id) in [
        ("products/delete", "p-delete", 7),
        ("orders/delete", "o-delete", 9),
        ("customers/delete", "c-delete", 8),
    ] {
        let del = deliver(
            &app,
            Delivery {
                topic,
                event_id: event,
                body: json!({"id": id}),
            },
        )
        .await;
        assert_eq!(del.state, JobState::Completed, "{del:?}");
    }
    for table in [
        "products",
        "product_variants",
        "orders",
        "order_line_items",
        "customers",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        assert_eq!(scalar(&app, &sql, &shop).await, 0, "{table}");
    }
    // Uninstalling revokes the app's token: Shopify refuses it from then on.
    app.fake.state().unauthorized = true;
    let un = deliver(
        &app,
        Delivery {
            topic: "app/uninstalled",
            event_id: "uninstalled",
            body: shop_object(),
        },
    )
    .await;
    assert_eq!(un.state, JobState::Completed, "{un:?}");
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["status"], "uninstalled");
    app.client
        .post(
            &format!("/v1/integrations/shopify/shops/{shop}/sync"),
            Some(app.owner()),
            json!({}),
        )
        .await
        .assert_error(409, "shop_not_active");
}

async fn compliance_topics_return_then_erase_the_customers_data_and_the_shops(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let email = "ada@example.com";
    for (topic, id, body) in [
        ("customers/create", "c1", customer(500, email)),
        ("customers/create", "c2", customer(501, "other@example.com")),
        ("orders/create", "o1", order(900, 500, email)),
        ("orders/paid", "o2", order(901, 501, "other@example.com")),
        (
            "orders/create",
            "o3",
            order(902, 777, "ada.old@example.com"),
        ),
    ] {
        let j = deliver(
            &app,
            Delivery {
                topic,
                event_id: id,
                body,
            },
        )
        .await;
        assert_eq!(j.state, JobState::Completed, "{j:?}");
    }
    let request = deliver(
        &app,
        Delivery {
            topic: "customers/data_request",
            event_id: "dr",
            body: json!({"shop_id": 1, "shop_domain": DOMAIN, "orders_requested": [900],
                         "customer": {"id": 500, "email": email, "phone": null},
                         "data_request": {"id": 9999}}),
        },
    )
    .await;
    assert_eq!(request.state, JobState::Completed, "{request:?}");
    let result = request.result.unwrap();
    assert_eq!(result["customer"]["email"], email);
    assert_eq!(result["customer"]["last_name"], "Lovelace");
    assert_eq!(result["orders"].as_array().unwrap().len(), 1);
    assert_eq!(result["orders"][0]["id"], 900);
    assert_eq!(result["data_request_id"], 9999);

    let redact = deliver(
        &app,
        Delivery {
            topic: "customers/redact",
            event_id: "cr",
            body: json!({"shop_id": 1, "shop_domain": DOMAIN,
                         "customer": {"id": 500, "email": email, "phone": null},
                         "orders_to_redact": [900, 902]}),
        },
    )
    .await;
    assert_eq!(redact.state, JobState::Completed, "{redact:?}");
    let count = |sql: &'static str| scalar(&app, sql, &shop);
    assert_eq!(
        count("SELECT COUNT(*) FROM customers WHERE shop_id = $1 AND source_id = 500").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND (email = 'ada@example.com' OR customer_source_id = 500)").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND source_id = 900").await,
        1,
        "the order stays, without personal data"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND email = 'ada.old@example.com'")
            .await,
        0,
        "orders listed in orders_to_redact lose their e-mail too"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1 AND payload LIKE '%ada@example.com%'").await,
        0,
        "no stored delivery mentions the customer"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM customers WHERE shop_id = $1 AND source_id = 501").await,
        1,
        "other customers untouched"
    );

    // Shopify sends shop/redact 48 hours after app/uninstalled (which revoked the token).
    app.fake.state().unauthorized = true;
    let un = deliver(
        &app,
        Delivery {
            topic: "app/uninstalled",
            event_id: "un",
            body: shop_object(),
        },
    )
    .await;
    assert_eq!(un.state, JobState::Completed, "{un:?}");
    let shop_redact = deliver(
        &app,
        Delivery {
            topic: "shop/redact",
            event_id: "sr",
            body: json!({"shop_id": 1, "shop_domain": DOMAIN}),
        },
    )
    .await;
    assert_eq!(shop_redact.state, JobState::Completed, "{shop_redact:?}");
    for table in [
        "customers",
        "orders",
        "order_line_items",
        "products",
        "product_variants",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        assert_eq!(scalar(&app, &sql, &shop).await, 0, "{table}");
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1 AND payload <> '{}'").await,
        0
    );
    assert_eq!(
        text(
            &app,
            "SELECT access_token FROM shopify_shops WHERE shop_id = $1",
            &shop
        )
        .await,
        None
    );
}

async fn start_sync(app: &TestApp, shop: &str) -> String {
    let r = app
        .client
        .post(
            &format!("/v1/integrations/shopify/shops/{shop}/sync"),
            Some(app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    r.body["job_id"].as_str().unwrap().to_owned()
}

async fn with_fake(b: Backend, counts: Counts, page_size: &str) -> Option<(TestApp, FakeShopify)> {
    // The fake listens before the app starts, so the app's base URL can point at it; both
    // run on one fake clock (the app's), moved by the client's throttle waits.
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), counts).await;
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(
        db,
        &[
            ("CONEA_JOB_LEASE", "1h"),
            ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
            ("SHOPIFY_PAGE_SIZE", page_size),
            ("SHOPIFY_BULK_THRESHOLD", "off"),
        ],
        clock,
    )
    .await;
    Some((app, fake))
}

async fn full_sync_gets_no_429_then_runs_incrementally(b: Backend) {
    let Some((app, fake)) = with_fake(b, Counts::of(1500), "50").await else {
        return;
    };
    let shop = connected(&app).await;
    let job_id = start_sync(&app, &shop).await;
    let same = start_sync(&app, &shop).await;
    assert_eq!(same, job_id, "one live sync per shop");
    let job = wait_final(&app, &job_id).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(job.progress, 100);
    let result = job.result.unwrap();
    for kind in ["products", "customers", "orders"] {
        assert_eq!(result[kind]["synced"], 1500, "{kind}: {result}");
        assert_eq!(result[kind]["pages"], 30);
        assert_eq!(result[kind]["resumed"], false);
    }
    // 90 requests (and the connect's `shop.json`): more than the bucket holds, so the
    // client had to pace itself.
    assert_eq!(fake.requests(), 1 + 90);
    assert_eq!(fake.rest_429s(), 0, "no 429 received");
    assert!(
        fake.max_fill() <= 40.0,
        "the bucket never overflowed: {}",
        fake.max_fill()
    );
    for (table, n) in [
        ("products", 1500),
        ("product_variants", 1500),
        ("customers", 1500),
        ("orders", 1500),
        ("order_line_items", 1500),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        assert_eq!(scalar(&app, &sql, &shop).await, n, "{table}");
    }
    let shown = get_shop(&app, &shop).await;
    assert!(shown.body["last_sync_at"].is_string(), "{}", shown.text);

    // The next sync asks only for what changed since the watermark.
    let before = fake.requests();
    let second = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(second.state, JobState::Completed, "{second:?}");
    let log = fake.log();
    let incremental = &log[before..];
    assert_eq!(incremental.len(), 3, "{incremental:?}");
    assert!(
        incremental.iter().all(|l| l.contains("updated_at_min=")),
        "{incremental:?}"
    );
    assert_eq!(second.result.unwrap()["products"]["synced"], 0);
}

async fn sync_refused_by_shopify_marks_the_shop_unauthorized_and_resumes_from_its_cursor(
    b: Backend,
) {
    let Some((app, fake)) = with_fake(b, Counts::of(500), "50").await else {
        return;
    };
    let shop = connected(&app).await;
    // The token is revoked after 4 pages of products.
    fake.answer_401_after(4);
    let job = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(job.state, JobState::Discarded, "no endless retry: {job:?}");
    assert_eq!(job.attempt, 1);
    assert!(
        job.errors[0].error.contains("unauthorized"),
        "{:?}",
        job.errors
    );
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["status"], "unauthorized");
    let health = app.client.get("/health", None).await;
    assert_eq!(
        health.body["checks"]["shopify_unauthorized"][0]["shop_id"],
        shop.as_str(),
        "{}",
        health.text
    );
    assert!(
        !health.text.contains(DOMAIN),
        "no shop domain on the unauthenticated /health"
    );
    assert!(shown.body["status_message"]
        .as_str()
        .unwrap()
        .contains("fake-req-"));
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM products WHERE shop_id = $1",
            &shop
        )
        .await,
        200,
        "the pages before the refusal are kept"
    );

    // Reconnected with a valid token: the sync continues from the saved cursor.
    fake.answer_401(false);
    let r = connect(&app, app.owner(), DOMAIN).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let before = fake.requests();
    let job = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let result = job.result.unwrap();
    assert_eq!(result["products"]["resumed"], true, "{result}");
    assert_eq!(result["products"]["synced"], 500);
    assert_eq!(result["products"]["pages"], 6, "pages 5 to 10 only");
    let health = app.client.get("/health", None).await;
    assert_eq!(health.body["checks"]["shopify_unauthorized"], json!([]));
    let log = fake.log();
    assert!(
        log[before].contains("page_info="),
        "the first request continues the saved cursor: {}",
        log[before]
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM products WHERE shop_id = $1",
            &shop
        )
        .await,
        500
    );
}

async fn refresh(app: &TestApp, shop: &str, resource: &str, id: Value) -> Resp {
    app.client
        .post(
            &format!("/v1/integrations/shopify/shops/{shop}/refresh"),
            Some(app.owner()),
            json!({"resource": resource, "id": id}),
        )
        .await
}

async fn refreshed(app: &TestApp, shop: &str, resource: &str, id: &Value) -> Job {
    let r = refresh(app, shop, resource, id.clone()).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_final(app, r.body["job_id"].as_str().unwrap()).await
}

async fn refresh_upserts_a_found_object_and_deletes_one_shopify_answers_404_for(b: Backend) {
    let Some((app, fake)) = with_fake(b, Counts::of(20), "250").await else {
        return;
    };
    let shop = connected(&app).await;
    let sync = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(sync.state, JobState::Completed, "{sync:?}");
    let count = |table: &'static str| {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        let (app, shop) = (&app, shop.clone());
        async move { scalar(app, &sql, &shop).await }
    };
    assert_eq!(count("products").await, 20);

    // The merchant deletes a product, an order and a customer in Shopify; no webhook came.
    let (product, order, customer) = (
        fake::data::product(3)["id"].clone(),
        fake::data::order(4)["id"].clone(),
        fake::data::customer(5)["id"].clone(),
    );
    for id in [&product, &order, &customer] {
        fake.delete_object(id.as_u64().unwrap());
    }
    for (resource, id) in [
        ("products", &product),
        ("orders", &order),
        ("customers", &customer),
    ] {
        let job = refreshed(&app, &shop, resource, id).await;
        assert_eq!(
            job.state,
            JobState::Completed,
            "a 404 is not a failure: {job:?}"
        );
        assert_eq!(job.attempt, 1, "and is not retried");
        let result = job.result.unwrap();
        assert_eq!(result["found"], false, "{result}");
        assert_eq!(result["resource"], resource);
    }
    assert_eq!(count("products").await, 19);
    assert_eq!(
        count("product_variants").await,
        19,
        "its variants went with it"
    );
    assert_eq!(count("orders").await, 19);
    assert_eq!(
        count("order_line_items").await,
        19,
        "its line items went with it"
    );
    assert_eq!(count("customers").await, 19);
    let still = scalar(
        &app,
        &format!("SELECT COUNT(*) FROM products WHERE shop_id = $1 AND source_id = {product}"),
        &shop,
    )
    .await;
    assert_eq!(still, 0, "exactly the deleted product is gone");

    // An object that exists is read again and upserted; one that was deleted locally by
    // mistake comes back.
    let six = &fake::data::product(6)["id"];
    for sql in [
        format!("DELETE FROM product_variants WHERE shop_id = $1 AND product_source_id = {six}"),
        format!("DELETE FROM products WHERE shop_id = $1 AND source_id = {six}"),
    ] {
        execute(&app, &sql, &shop).await;
    }
    assert_eq!(count("products").await, 18);
    let job = refreshed(&app, &shop, "products", &fake::data::product(6)["id"]).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let result = job.result.unwrap();
    assert_eq!(result["found"], true, "{result}");
    assert_eq!(result["upsert"]["inserted"], 1, "{result}");
    assert_eq!(count("products").await, 19);
    assert!(
        fake.log().last().unwrap().starts_with(&format!(
            "GET products/{}.json",
            fake::data::product(6)["id"]
        )),
        "{:?}",
        fake.log().last()
    );

    // A revoked token is not a deletion: the shop becomes unauthorized, nothing is deleted.
    fake.answer_401(true);
    let job = refreshed(&app, &shop, "products", &fake::data::product(7)["id"]).await;
    assert_eq!(job.state, JobState::Discarded, "{job:?}");
    assert_eq!(count("products").await, 19);
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["status"], "unauthorized");
}

async fn refresh_refuses_bad_input_and_inactive_shops(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let e = refresh(&app, &shop, "widgets", json!(1)).await;
    assert_eq!(e.status, 400, "{}", e.text);
    refresh(&app, &shop, "products", json!(0))
        .await
        .assert_error(400, "invalid_parameter");
    refresh(
        &app,
        "shop_00000000000000000000000000",
        "products",
        json!(1),
    )
    .await
    .assert_error(404, "not_found");
    let r = disconnect(&app, &shop).await;
    assert_eq!(r.status, 204, "{}", r.text);
    refresh(&app, &shop, "products", json!(1))
        .await
        .assert_error(409, "shop_not_active");
}

async fn syncing_10000_products_takes_within_10_percent_of_the_leak_rate_minimum(b: Backend) {
    let counts = Counts {
        products: 10_000,
        customers: 0,
        orders: 0,
    };
    let Some((app, fake)) = with_fake(b, counts, "100").await else {
        return;
    };
    let shop = connected(&app).await;
    let start = conea_core::Clock::now_ms(&app.clock);
    let job = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let took_ms = conea_core::Clock::now_ms(&app.clock) - start;
    // 100 product pages, one (empty) page each of customers and orders. A full bucket of 40
    // goes at once; every further request needs one leak step (500 ms at 2/s). The
    // connect's `shop.json` came first.
    let requests = fake.requests() as i64;
    assert_eq!(requests, 1 + 102);
    let minimum_ms = (requests - 40) * 500;
    println!(
        "sync of 10,000 products: {took_ms} ms of Shopify time for {requests} requests; \
         the leak rate allows {minimum_ms} ms at best ({:.1}% over)",
        (took_ms - minimum_ms) as f64 * 100.0 / minimum_ms as f64
    );
    assert_eq!(fake.rest_429s(), 0);
    assert!(took_ms >= minimum_ms, "faster than the bucket allows?");
    assert!(
        took_ms * 10 <= minimum_ms * 11,
        "{took_ms} ms is more than 10% over the minimum {minimum_ms} ms"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM products WHERE shop_id = $1",
            &shop
        )
        .await,
        10_000
    );
}

async fn webhooks_are_rate_limited_per_client_address_apart_from_login(b: Backend) {
    let Some(app) = app_with(b, &[("SHOPIFY_WEBHOOKS_PER_IP_PER_MINUTE", "3")]).await else {
        return;
    };
    connected(&app).await;
    for i in 0..3 {
        let event = format!("limited-{i}");
        let r = post_webhook(
            &app,
            &Delivery {
                topic: "products/update",
                event_id: &event,
                body: product(i + 1, "Limited", "2026-05-01T00:00:00Z"),
            },
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.header("x-ratelimit-limit").is_some());
    }
    let refused = post_webhook(
        &app,
        &Delivery {
            topic: "products/update",
            event_id: "limited-3",
            body: product(9, "Limited", "2026-05-01T00:00:00Z"),
        },
    )
    .await;
    refused.assert_error(429, "rate_limit_exceeded");
    assert!(refused.header("retry-after").is_some());
    // The login quota of the same address is its own.
    let login = app
        .client
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "wrong password"}),
        )
        .await;
    assert_eq!(login.status, 401, "{}", login.text);
}

async fn signed_body_replayed_under_another_topic_answers_200_is_counted_and_erases_nothing(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let email = "ada@example.com";
    for (topic, id, body) in [
        ("customers/create", "c1", customer(500, email)),
        ("orders/create", "o1", order(900, 500, email)),
        (
            "products/create",
            "p1",
            product(7, "Kept", "2026-05-01T00:00:00Z"),
        ),
    ] {
        let j = deliver(
            &app,
            Delivery {
                topic,
                event_id: id,
                body,
            },
        )
        .await;
        assert_eq!(j.state, JobState::Completed, "{j:?}");
    }
    let customer_redaction = json!({"shop_id": 1, "shop_domain": DOMAIN,
        "customer": {"id": 500, "email": email}, "orders_to_redact": [900]});
    let replays = [
        // An order body (signed by Shopify) re-sent under other topics.
        ("shop/redact", order(900, 500, email)),
        ("customers/redact", order(900, 500, email)),
        ("customers/data_request", order(900, 500, email)),
        ("orders/delete", order(900, 500, email)),
        ("customers/delete", order(900, 500, email)),
        ("app/uninstalled", order(900, 500, email)),
        ("customers/update", order(900, 500, email)),
        ("products/update", order(900, 500, email)),
        // A customer's redaction re-sent as the shop's.
        ("shop/redact", customer_redaction.clone()),
        // A genuine shop/redact body, but the shop was never uninstalled.
        ("shop/redact", json!({"shop_id": 1, "shop_domain": DOMAIN})),
        // A compliance request about another shop.
        (
            "customers/redact",
            json!({"shop_id": 2, "shop_domain": "other-shop.myshopify.com",
                   "customer": {"id": 500, "email": email}, "orders_to_redact": [900]}),
        ),
    ];
    for (i, (topic, body)) in replays.iter().enumerate() {
        let r = post_webhook(
            &app,
            &Delivery {
                topic,
                event_id: &format!("replay-{i}"),
                body: body.clone(),
            },
        )
        .await;
        assert_eq!(r.status, 200, "{topic}: {}", r.text);
        assert_eq!(r.body["job_id"], Value::Null, "{topic}: {}", r.text);
        assert_eq!(r.body["created"], false);
        assert!(r.body["rejected"].as_str().is_some(), "{topic}: {}", r.text);
    }
    let n = replays.len() as i64;
    let count = |sql: &'static str| scalar(&app, sql, &shop);
    for (table, expected) in [("customers", 1), ("orders", 1), ("products", 1)] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        assert_eq!(scalar(&app, &sql, &shop).await, expected, "{table}");
    }
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND email = 'ada@example.com'").await,
        1,
        "the order keeps its customer"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1").await,
        3,
        "no replay stored"
    );
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["status"], "active", "{}", shown.text);
    assert_eq!(shown.body["webhooks_rejected"], n, "{}", shown.text);
    assert!(text(
        &app,
        "SELECT access_token FROM shopify_shops WHERE shop_id = $1",
        &shop
    )
    .await
    .is_some());
    let metrics = app.client.get("/metrics", None).await.text;
    assert!(
        metrics.contains(&format!(
            "conea_shopify_webhooks_total{{outcome=\"topic_mismatch\"}} {n}"
        )),
        "{metrics}"
    );
    assert_eq!(
        app.state.platform().shopify.signature_failures().since(0),
        n as usize,
        "each replay raises the signature-failure signal"
    );
}

async fn customer_redaction_erases_only_the_customer_and_orders_it_names(b: Backend) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let email = "ada@example.com";
    for (topic, id, body) in [
        ("customers/create", "c1", customer(500, email)),
        ("customers/create", "c2", customer(888, email)),
        ("orders/create", "o1", order(900, 500, email)),
        // Another customer's order that shares the e-mail: not named by the request.
        ("orders/create", "o2", order(903, 888, email)),
    ] {
        let j = deliver(
            &app,
            Delivery {
                topic,
                event_id: id,
                body,
            },
        )
        .await;
        assert_eq!(j.state, JobState::Completed, "{j:?}");
    }
    let redact = deliver(
        &app,
        Delivery {
            topic: "customers/redact",
            event_id: "cr",
            body: json!({"shop_id": 1, "shop_domain": DOMAIN,
                         "customer": {"id": 500, "email": email},
                         "orders_to_redact": [900]}),
        },
    )
    .await;
    assert_eq!(redact.state, JobState::Completed, "{redact:?}");
    let count = |sql: &'static str| scalar(&app, sql, &shop);
    assert_eq!(
        count("SELECT COUNT(*) FROM customers WHERE shop_id = $1").await,
        1
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND source_id = 900 AND email IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM orders WHERE shop_id = $1 AND source_id = 903 AND customer_source_id = 888 AND email = 'ada@example.com'")
            .await,
        1,
        "another customer's order stays whole"
    );
}

async fn connect_with(app: &TestApp, key: &str, domain: &str, token: &str) -> Resp {
    app.client
        .post(
            "/v1/integrations/shopify/shops",
            Some(key),
            json!({"shop_domain": domain, "access_token": token, "api_secret": SECRET}),
        )
        .await
}

async fn a_shop_is_connected_only_with_a_token_it_accepts_and_each_organization_gets_its_own_connection(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let acme = second_org_key(&app).await;
    let shops = |key: String| {
        let client = app.client.clone();
        async move {
            client
                .get("/v1/integrations/shopify/shops", Some(&key))
                .await
                .body["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };

    // Another organization claims the domain with a token the shop refuses: nothing stored.
    let r = connect_with(&app, &acme, DOMAIN, "shpat_guessed").await;
    r.assert_error(422, "shop_token_refused");
    assert_eq!(r.body["error"]["details"]["param"], "access_token");
    assert!(
        !r.text.contains("shpat_guessed"),
        "the token is never echoed"
    );
    assert_eq!(shops(acme.clone()).await, 0);
    assert!(
        app.fake
            .log()
            .iter()
            .any(|l| l.starts_with("GET shop.json")),
        "{:?}",
        app.fake.log()
    );
    // A valid token of another shop does not open this domain.
    connect_with(&app, &acme, "other-shop.myshopify.com", fake::TOKEN)
        .await
        .assert_error(422, "shop_token_refused");

    // The real owner connects (not blocked by the failed claim)...
    let ours = connect_with(&app, app.owner(), DOMAIN, fake::TOKEN).await;
    assert_eq!(ours.status, 201, "{}", ours.text);
    // ...and another organization with a valid token gets its own connection.
    let theirs = connect_with(&app, &acme, DOMAIN, fake::TOKEN).await;
    assert_eq!(theirs.status, 201, "{}", theirs.text);
    assert_ne!(theirs.body["id"], ours.body["id"]);
    assert_eq!(shops(app.owner().to_owned()).await, 1);
    assert_eq!(shops(acme.clone()).await, 1);
    // Each connection keeps the deliveries its own secret verifies (both used SECRET).
    let r = post_webhook(
        &app,
        &Delivery {
            topic: "products/update",
            event_id: "both",
            body: product(1, "x", "2026-01-01T00:00:00Z"),
        },
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for shop in [&ours.body["id"], &theirs.body["id"]] {
        let sql = "SELECT COUNT(*) FROM shopify_webhook_deliveries WHERE shop_id = $1";
        assert_eq!(scalar(&app, sql, shop.as_str().unwrap()).await, 1);
    }

    // Shopify down: 502, nothing stored.
    let own_id = ours.body["id"].as_str().unwrap().to_owned();
    assert_eq!(disconnect(&app, &own_id).await.status, 204);
    app.fake.answer_500s(100);
    connect_with(&app, app.owner(), DOMAIN, fake::TOKEN)
        .await
        .assert_error(502, "shopify_unavailable");
    assert_eq!(get_shop(&app, &own_id).await.body["status"], "disconnected");
}

/// `app/uninstalled` carries the shop object, the very body Shopify signs for `shop/update`:
/// replayed under the uninstall topic it passes every check of the body. Conea asks Shopify
/// (`GET shop.json` with the shop's token): while the token is accepted the app is installed,
/// so the delivery is rejected (counted, signature-failure signal) and the shop stays
/// active; once Shopify refuses the token (a real uninstall revokes it) the shop is marked.
async fn a_shop_update_body_replayed_as_app_uninstalled_changes_nothing_while_shopify_accepts_the_token(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let update = deliver(
        &app,
        Delivery {
            topic: "shop/update",
            event_id: "update",
            body: shop_object(),
        },
    )
    .await;
    assert_eq!(update.state, JobState::Completed, "{update:?}");
    let asked_before = app
        .fake
        .log()
        .iter()
        .filter(|l| l.contains("shop.json"))
        .count();
    let replay = deliver(
        &app,
        Delivery {
            topic: "app/uninstalled",
            event_id: "replayed-update",
            body: shop_object(),
        },
    )
    .await;
    assert_eq!(replay.state, JobState::Completed, "{replay:?}");
    let result = replay.result.unwrap();
    assert!(result["rejected"].as_str().is_some(), "{result}");
    assert_eq!(
        app.fake
            .log()
            .iter()
            .filter(|l| l.contains("shop.json"))
            .count(),
        asked_before + 1,
        "Shopify was asked"
    );
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["status"], "active", "{}", shown.text);
    assert_eq!(shown.body["webhooks_rejected"], 1, "{}", shown.text);
    assert_eq!(
        app.state.platform().shopify.signature_failures().since(0),
        1,
        "the replay raises the signature-failure signal"
    );
    // A real uninstall: Shopify revoked the token.
    app.fake.state().unauthorized = true;
    let real = deliver(
        &app,
        Delivery {
            topic: "app/uninstalled",
            event_id: "uninstalled",
            body: shop_object(),
        },
    )
    .await;
    assert_eq!(real.state, JobState::Completed, "{real:?}");
    assert_eq!(real.result.unwrap()["status"], "uninstalled");
    assert_eq!(get_shop(&app, &shop).await.body["status"], "uninstalled");
}

async fn with_bulk(b: Backend, counts: Counts, threshold: &str) -> Option<(TestApp, FakeShopify)> {
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), counts).await;
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(
        db,
        &[
            ("CONEA_JOB_LEASE", "1h"),
            ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
            ("SHOPIFY_BULK_THRESHOLD", threshold),
        ],
        clock,
    )
    .await;
    Some((app, fake))
}

/// Waits for a job to end, moving the fake clock on so its retries come due.
async fn wait_final_retrying(app: &TestApp, id: &str) -> Job {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = app.state.platform().jobs.get_any(id).await.unwrap();
        if job.state.is_final() {
            return job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} never finished: {job:?}"
        );
        app.clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn first_sync_runs_as_a_bulk_operation_and_a_download_cut_mid_file_resumes_without_duplicates(
    b: Backend,
) {
    let Some((app, fake)) = with_bulk(b, Counts::of(3000), "10000").await else {
        return;
    };
    let shop = connected(&app).await;
    // The products file (3000 products + 3000 variants = 6000 lines) breaks after 2500.
    fake.cut_bulk_download_after(2500);
    let job = wait_final_retrying(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    assert_eq!(
        job.errors.len(),
        1,
        "one failed attempt, then one resumed: {job:?}"
    );
    let result = job.result.unwrap();
    let products = &result["products"];
    assert!(products["bulk_operation"].is_string(), "{result}");
    let after = products["resumed_after_lines"].as_i64().unwrap();
    assert!(after > 0 && after <= 2500 && after % 2 == 0, "{result}");
    // The resumed attempt wrote only the products after the committed lines.
    assert_eq!(
        products["inserted"].as_i64().unwrap(),
        3000 - after / 2,
        "{result}"
    );
    assert_eq!(products["updated"], 0, "nothing written twice: {result}");
    assert_eq!(products["lines"], 6000);
    for kind in ["customers", "orders"] {
        assert_eq!(result[kind]["inserted"], 3000, "{kind}: {result}");
        assert_eq!(result[kind]["resumed_after_lines"], 0, "{kind}: {result}");
    }
    for (table, n) in [
        ("products", 3000),
        ("product_variants", 3000),
        ("customers", 3000),
        ("orders", 3000),
        ("order_line_items", 3000),
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        assert_eq!(scalar(&app, &sql, &shop).await, n, "{table}");
    }
    let sql = "SELECT COUNT(*) FROM order_line_items WHERE shop_id = $1 AND quantity = 3";
    assert_eq!(scalar(&app, sql, &shop).await, 3000);
    // Three bulk operations (one per resource: the resumed one was not started again) and
    // a handful of requests, where pages of 250 would have needed 36.
    assert_eq!(fake.bulk_operations(), 3);
    let log = fake.log();
    assert!(!log.iter().any(|l| l.contains("orders.json")), "{log:?}");
}

async fn incremental_sync_goes_in_bulk_only_above_the_threshold(b: Backend) {
    let Some((app, fake)) = with_bulk(b, Counts::of(300), "100").await else {
        return;
    };
    let shop = connected(&app).await;
    // Bulk polls wait for the clock: move it.
    let first = wait_final_retrying(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(first.state, JobState::Completed, "{first:?}");
    assert_eq!(fake.bulk_operations(), 3);
    // Next pass: the count since the watermark (0) is under the threshold, so pages.
    let before = fake.requests();
    let second = wait_final(&app, &start_sync(&app, &shop).await).await;
    assert_eq!(second.state, JobState::Completed, "{second:?}");
    let log = fake.log()[before..].to_vec();
    assert_eq!(fake.bulk_operations(), 3, "{log:?}");
    assert_eq!(
        log.iter().filter(|l| l.contains("count.json")).count(),
        3,
        "{log:?}"
    );
    assert_eq!(second.result.unwrap()["orders"]["synced"], 0);
}

/// The three delete topics carry the same bare `{"id": N}` body, so a signed
/// `products/delete` body replayed under `orders/delete` (with a new event id) passes every
/// check of the body and names the order that has the product's id. Before erasing, Conea
/// asks Shopify (`GET orders/{id}.json`): while Shopify still has the order the delivery is
/// rejected (counted, signature-failure signal) and nothing is erased; a refused token
/// confirms nothing (the job is discarded, nothing erased); Shopify unreachable is retried
/// without erasing; once Shopify answers 404 the order is deleted with its line items.
async fn a_products_delete_body_replayed_as_orders_delete_erases_nothing_while_shopify_still_has_the_order(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let shop = connected(&app).await;
    let email = "ada@example.com";
    for (topic, event, body) in [
        ("orders/create", "o-create", order(900, 500, email)),
        (
            "products/create",
            "p-create",
            product(900, "Same id", "2026-05-01T00:00:00Z"),
        ),
    ] {
        let j = deliver(
            &app,
            Delivery {
                topic,
                event_id: event,
                body,
            },
        )
        .await;
        assert_eq!(j.state, JobState::Completed, "{j:?}");
    }
    // Shopify has the order; the product was deleted there (the fake answers 404 for it).
    app.fake.put_object("orders", order(900, 500, email));
    let count = |table: &str| {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE shop_id = $1");
        let (app, shop) = (&app, &shop);
        async move { scalar(app, &sql, shop).await }
    };

    let product_deleted = deliver(
        &app,
        Delivery {
            topic: "products/delete",
            event_id: "p-delete",
            body: json!({"id": 900}),
        },
    )
    .await;
    assert_eq!(
        product_deleted.state,
        JobState::Completed,
        "{product_deleted:?}"
    );
    assert_eq!(count("products").await, 0, "a real deletion still deletes");

    // The same signed body, replayed as orders/delete.
    let replay = deliver(
        &app,
        Delivery {
            topic: "orders/delete",
            event_id: "replayed-p-delete",
            body: json!({"id": 900}),
        },
    )
    .await;
    assert_eq!(replay.state, JobState::Completed, "{replay:?}");
    let result = replay.result.unwrap();
    assert!(result["rejected"].as_str().is_some(), "{result}");
    assert!(
        app.fake
            .log()
            .iter()
            .any(|l| l.starts_with("GET orders/900.json")),
        "Shopify was asked: {:?}",
        app.fake.log()
    );
    assert_eq!(count("orders").await, 1, "the order is not erased");
    assert_eq!(count("order_line_items").await, 1);
    let shown = get_shop(&app, &shop).await;
    assert_eq!(shown.body["webhooks_rejected"], 1, "{}", shown.text);
    assert_eq!(
        app.state.platform().shopify.signature_failures().since(0),
        1,
        "the replay raises the signature-failure signal"
    );

    // A refused token confirms nothing: the job ends discarded, nothing erased.
    app.fake.answer_401(true);
    let refused = deliver(
        &app,
        Delivery {
            topic: "orders/delete",
            event_id: "o-delete-refused",
            body: json!({"id": 900}),
        },
    )
    .await;
    assert_eq!(refused.state, JobState::Discarded, "{refused:?}");
    assert!(
        refused.errors[0].error.contains("cannot be confirmed"),
        "{refused:?}"
    );
    assert_eq!(count("orders").await, 1, "nothing erased");
    app.fake.answer_401(false);

    // The merchant deletes the order; Shopify is unreachable at first (every attempt of the
    // client's first call answers 500): the job is retried, nothing erased until confirmed.
    app.fake.delete_object(900);
    app.fake.answer_500s(4);
    let r = post_webhook(
        &app,
        &Delivery {
            topic: "orders/delete",
            event_id: "o-delete",
            body: json!({"id": 900}),
        },
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["job_id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app.state.platform().jobs.get_any(&id).await.unwrap();
        if job.state == JobState::Retryable {
            assert!(job.errors[0].error.contains("could not confirm"), "{job:?}");
            break;
        }
        assert!(!job.state.is_final(), "{job:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "never retried: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count("orders").await, 1, "nothing erased while unconfirmed");
    let deleted = wait_final_retrying(&app, &id).await;
    assert_eq!(deleted.state, JobState::Completed, "{deleted:?}");
    assert_eq!(deleted.result.unwrap()["deleted"]["orders"], 1);
    assert_eq!(count("orders").await, 0, "confirmed by Shopify's 404");
    assert_eq!(count("order_line_items").await, 0);
    assert_eq!(
        app.state.platform().shopify.signature_failures().since(0),
        1,
        "only the replay counted"
    );
}
