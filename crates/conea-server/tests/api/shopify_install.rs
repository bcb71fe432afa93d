//! The Conea Shopify app through the running application and the fake Shopify: installing
//! a shop by OAuth (consent URL, callback with Shopify's `hmac`, code exchange, token sealed,
//! first sync), each refused callback storing nothing, and the webhook subscriptions Conea
//! keeps at the shop (registered after connecting, repaired, removed on disconnect).
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_core::Clock as _;
use conea_shopify::oauth::sign_query;
use conea_shopify::SUBSCRIBED_TOPICS;
use conea_testkit::fake_shopify::{self as fake, Counts, FakeShopify};
use conea_testkit::{backend_tests, Backend, Resp, TestApp};
use serde_json::json;
use std::time::Duration;

const DOMAIN: &str = "fake-shop.myshopify.com";
const APP_ID: &str = "conea-app-client-id";
const APP_SECRET: &str = "shpss_conea_app_secret";
const PUBLIC: &str = "https://conea.example.test";
const HOOKS: &str = "https://conea.example.test/v1/webhooks/shopify";

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

async fn app_with(b: Backend, oauth: bool) -> Option<App> {
    app_with_settings(b, oauth, &[]).await
}

async fn app_with_settings(b: Backend, oauth: bool, extra: &[(&str, &str)]) -> Option<App> {
    let clock = conea_core::FakeClock::starting_now();
    let fake = FakeShopify::start(clock.clone(), Counts::of(0)).await;
    fake.set_oauth_app(APP_ID, APP_SECRET);
    let mut overrides = vec![
        ("CONEA_JOB_LEASE", "1h"),
        ("SHOPIFY_BASE_URL", fake.base_url.as_str()),
        ("SHOPIFY_BULK_THRESHOLD", "off"),
        ("CONEA_PUBLIC_URL", PUBLIC),
    ];
    overrides.extend_from_slice(extra);
    if oauth {
        overrides.push(("SHOPIFY_API_KEY", APP_ID));
        overrides.push(("SHOPIFY_API_SECRET", APP_SECRET));
    }
    let db = conea_testkit::TestDb::create(b).await?;
    let app = TestApp::start(db, &overrides, clock).await;
    Some(App { app, fake })
}

async fn app(b: Backend) -> Option<App> {
    app_with(b, true).await
}

/// `GET /install` as an API client: the consent URL.
async fn authorize_url(app: &TestApp, key: &str, shop: &str) -> url::Url {
    let r = app
        .client
        .http()
        .get(app.client.url("/v1/integrations/shopify/install"))
        .query(&[("shop", shop)])
        .bearer_auth(key)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let r = conea_testkit::Client::read(r).await;
    assert_eq!(r.status, 200, "{}", r.text);
    url::Url::parse(r.body["authorize_url"].as_str().unwrap()).unwrap()
}

fn param(u: &url::Url, name: &str) -> String {
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {u}"))
}

/// What Shopify sends to the redirect URI once the merchant approved: the query, signed
/// with `secret`.
fn callback_query(shop: &str, state: &str, code: &str, secret: &str) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = [
        ("code", code),
        ("host", "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZmFrZS1zaG9w"),
        ("shop", shop),
        ("state", state),
        ("timestamp", "1764842400"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let hmac = sign_query(&q, secret);
    q.push(("hmac".into(), hmac));
    q
}

/// Follows the redirect URI of the consent URL with `query` (`json`: as an API client).
async fn callback(app: &TestApp, query: &[(String, String)], json: bool) -> Resp {
    let mut req = app
        .client
        .http()
        .get(app.client.url("/v1/integrations/shopify/callback"))
        .query(query);
    if json {
        req = req.header("accept", "application/json");
    }
    conea_testkit::Client::read(req.send().await.unwrap()).await
}

/// A full install for the organization of `key`: the connected shop's JSON.
async fn install(app: &App, key: &str, code: &str) -> Resp {
    let u = authorize_url(app, key, DOMAIN).await;
    app.fake.issue_code(code);
    let r = callback(
        app,
        &callback_query(DOMAIN, &param(&u, "state"), code, APP_SECRET),
        true,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
        sql
    )
    .fetch_one(p)
    .await
    .unwrap())
}

async fn connections(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM shopify_shops").await
}

/// Waits until the shop's first sync finished and its job completed (it repairs the
/// subscriptions too, so a test that changes them at the fake waits for it first).
async fn synced(app: &TestApp, key: &str, shop: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = app
            .client
            .get(&format!("/v1/integrations/shopify/shops/{shop}"), Some(key))
            .await;
        // Finished, and its job completed (completions are written in batches; a live sync
        // would be the answer to the next one asked for).
        let live = count(
            app,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.sync' AND state <> 'completed'",
        )
        .await;
        if r.body["last_sync_at"].is_string() && live == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never synced: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn registered(fake: &FakeShopify) -> Vec<String> {
    let mut topics: Vec<String> = fake
        .subscriptions()
        .into_iter()
        .filter(|s| s.callback_url == HOOKS)
        .map(|s| conea_shopify::subscriptions::header_topic(&s.topic))
        .collect();
    topics.sort();
    topics
}

async fn second_org_key(app: &TestApp, permissions: &[Permission]) -> String {
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
            permissions.iter().copied().collect(),
            None,
        )
        .await
        .unwrap()
        .secret
}

backend_tests!(
    install_redirects_to_shopifys_consent_page_with_a_single_use_state,
    install_by_oauth_connects_the_shop_with_its_token_sealed_registers_webhooks_and_syncs,
    refused_callbacks_answer_a_page_or_the_error_body_and_store_nothing,
    the_callback_connects_the_shop_only_to_the_organization_that_started_the_install,
    install_needs_the_permission_a_configured_app_and_a_shop_domain,
    repair_recreates_a_deleted_subscription_and_leaves_a_foreign_one_alone,
    disconnect_removes_conea_subscriptions_and_leaves_foreign_ones,
    a_token_shopify_refuses_while_managing_webhooks_marks_the_shop_unauthorized,
    scheduled_syncs_run_each_interval_and_stop_once_shopify_refuses_the_token,
    a_signed_install_link_opened_without_a_credential_connects_the_shop_to_the_links_organization,
    refused_install_links_answer_a_page_or_the_error_body_and_store_nothing,
    install_links_need_the_permission_a_configured_app_a_shop_domain_and_a_bounded_expiry,
);

async fn install_redirects_to_shopifys_consent_page_with_a_single_use_state(b: Backend) {
    let Some(app) = app(b).await else { return };
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = browser
        .get(
            app.client
                .url("/v1/integrations/shopify/install?shop=Fake-Shop.myshopify.com"),
        )
        .bearer_auth(app.owner())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let u = url::Url::parse(&location).unwrap();
    assert_eq!(
        format!("{}{}", u.origin().ascii_serialization(), u.path()),
        format!("{}/admin/oauth/authorize", app.fake.base_url)
    );
    assert_eq!(param(&u, "client_id"), APP_ID);
    assert_eq!(
        param(&u, "scope"),
        "read_products,read_customers,read_orders"
    );
    assert_eq!(
        param(&u, "redirect_uri"),
        format!("{PUBLIC}/v1/integrations/shopify/callback")
    );
    assert_eq!(param(&u, "grant_options[]"), "", "an offline token");
    let state = param(&u, "state");
    assert!(state.len() >= 40, "unguessable: {state}");

    // Stored hashed, for the organization and the shop (lowercased), expiring in 10 minutes.
    let stored = count(
        &app,
        "SELECT COUNT(*) FROM shopify_install_states WHERE domain = 'fake-shop.myshopify.com' \
         AND expires_at - created_at = 600000 AND used_at IS NULL",
    )
    .await;
    assert_eq!(stored, 1);
    let plain = conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<DB, i64>(
        "SELECT COUNT(*) FROM shopify_install_states WHERE state_hash = $1"
    )
    .bind(&state)
    .fetch_one(p)
    .await
    .unwrap());
    assert_eq!(plain, 0, "the state itself is not stored");

    // Each install gets its own state.
    let again = authorize_url(&app, app.owner(), DOMAIN).await;
    assert_ne!(param(&again, "state"), state);
}

async fn install_by_oauth_connects_the_shop_with_its_token_sealed_registers_webhooks_and_syncs(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let u = authorize_url(&app, app.owner(), DOMAIN).await;
    app.fake.issue_code("code-1");
    // As the merchant's browser: a page.
    let query = callback_query(DOMAIN, &param(&u, "state"), "code-1", APP_SECRET);
    let page = callback(&app, &query, false).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.text
            .contains("fake-shop.myshopify.com</b> is connected"),
        "{}",
        page.text
    );
    assert!(!page.text.contains(fake::TOKEN));
    assert_eq!(
        app.fake.state().oauth_exchanged,
        1,
        "the code was exchanged once"
    );

    let list = app
        .client
        .get("/v1/integrations/shopify/shops", Some(app.owner()))
        .await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        list.text
    );
    let shop = &list.body["data"][0];
    assert_eq!(shop["shop_domain"], DOMAIN);
    assert_eq!(shop["status"], "active");
    let id = shop["id"].as_str().unwrap().to_owned();

    // The offline token and the app secret are sealed at rest.
    let stored = conea_store::with_pool!(app.state.store().db(), |p| sqlx::query_scalar::<
        DB,
        String,
    >(
        "SELECT access_token || api_secret FROM shopify_shops WHERE shop_id = $1"
    )
    .bind(&id)
    .fetch_one(p)
    .await
    .unwrap());
    assert!(stored.starts_with("v1:"));
    assert!(!stored.contains(fake::TOKEN) && !stored.contains(APP_SECRET));

    // Every topic Conea handles is subscribed at the fake, to this server's address.
    let mut expected: Vec<String> = SUBSCRIBED_TOPICS.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(registered(&app.fake), expected);
    let create = app
        .fake
        .log()
        .iter()
        .filter(|l| *l == "POST graphql.json")
        .count();
    assert!(
        create > SUBSCRIBED_TOPICS.len(),
        "listed, then created each"
    );

    // The first sync ran with the stored token, and left the subscriptions as they were.
    synced(&app, app.owner(), &id).await;
    assert_eq!(registered(&app.fake), expected);

    // Shopify signs the app's webhooks with the app's secret: they verify.
    let body = json!({"id": 7, "title": "Hat", "status": "active",
        "updated_at": "2026-01-01T00:00:00Z", "variants": []})
    .to_string();
    let r = app
        .client
        .http()
        .post(app.client.url("/v1/webhooks/shopify"))
        .header("content-type", "application/json")
        .header(
            "X-Shopify-Hmac-Sha256",
            conea_shopify::sign(body.as_bytes(), APP_SECRET),
        )
        .header("X-Shopify-Shop-Domain", DOMAIN)
        .header("X-Shopify-Topic", "products/update")
        .header("X-Shopify-Webhook-Id", "wh-1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn refused_callbacks_answer_a_page_or_the_error_body_and_store_nothing(b: Backend) {
    let Some(app) = app(b).await else { return };
    let fresh_state = || async { param(&authorize_url(&app, app.owner(), DOMAIN).await, "state") };
    app.fake.issue_code("good-code");

    // Forged: signed with another secret. A browser gets a page with the error's words.
    let forged = callback_query(DOMAIN, &fresh_state().await, "good-code", "not-the-secret");
    let page = callback(&app, &forged, false).await;
    assert_eq!(page.status, 401);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        page.text.contains("invalid_install_signature"),
        "{}",
        page.text
    );
    assert!(page.text.contains(page.header("x-request-id").unwrap()));
    callback(&app, &forged, true)
        .await
        .assert_error(401, "invalid_install_signature");
    // Altered after signing: the shop swapped.
    let mut altered = callback_query(DOMAIN, &fresh_state().await, "good-code", APP_SECRET);
    altered[2].1 = "other-shop.myshopify.com".into();
    callback(&app, &altered, true)
        .await
        .assert_error(401, "invalid_install_signature");

    // A shop domain that is not `name.myshopify.com`, correctly signed.
    for bad in [
        "evil.example.com",
        "-x.myshopify.com",
        "x.myshopify.com.evil.test",
    ] {
        let q = callback_query(bad, &fresh_state().await, "good-code", APP_SECRET);
        callback(&app, &q, true)
            .await
            .assert_error(422, "install_shop_mismatch");
    }

    // Another shop than the install was started for.
    let q = callback_query(
        "other-shop.myshopify.com",
        &fresh_state().await,
        "good-code",
        APP_SECRET,
    );
    let r = callback(&app, &q, true).await;
    r.assert_error(422, "install_shop_mismatch");
    assert!(
        r.text.contains("started for fake-shop.myshopify.com"),
        "{}",
        r.text
    );

    // A state this server never issued.
    let q = callback_query(DOMAIN, "made-up-state", "good-code", APP_SECRET);
    callback(&app, &q, true)
        .await
        .assert_error(422, "install_state_unknown");

    // Expired: the merchant approved 11 minutes later.
    let state = fresh_state().await;
    app.clock.advance(Duration::from_secs(11 * 60));
    let q = callback_query(DOMAIN, &state, "good-code", APP_SECRET);
    callback(&app, &q, true)
        .await
        .assert_error(422, "install_state_expired");

    // A code Shopify does not know.
    let q = callback_query(DOMAIN, &fresh_state().await, "unknown-code", APP_SECRET);
    let r = callback(&app, &q, true).await;
    r.assert_error(422, "install_code_refused");
    assert!(
        r.text.contains("already used"),
        "Shopify's words: {}",
        r.text
    );

    assert_eq!(connections(&app).await, 0, "nothing stored");
    assert!(app.fake.subscriptions().is_empty());
    assert_eq!(app.fake.state().oauth_exchanged, 0);

    // Replayed: the first callback connects, the same one again is refused.
    let q = callback_query(DOMAIN, &fresh_state().await, "good-code", APP_SECRET);
    assert_eq!(callback(&app, &q, true).await.status, 200);
    app.fake.issue_code("good-code");
    callback(&app, &q, true)
        .await
        .assert_error(409, "install_state_used");
    assert_eq!(connections(&app).await, 1);
    assert_eq!(
        app.fake.state().oauth_exchanged,
        1,
        "the replay exchanged nothing"
    );
}

async fn the_callback_connects_the_shop_only_to_the_organization_that_started_the_install(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let acme = second_org_key(&app, &[Permission::IntegrationsManage]).await;
    // Acme starts the install; the callback carries no credential at all.
    let r = install(&app, &acme, "acme-code").await;
    let id = r.body["id"].as_str().unwrap();
    let mine = app
        .client
        .get("/v1/integrations/shopify/shops", Some(app.owner()))
        .await;
    assert_eq!(
        mine.body["data"],
        json!([]),
        "not the default organization's"
    );
    app.client
        .get(
            &format!("/v1/integrations/shopify/shops/{id}"),
            Some(app.owner()),
        )
        .await
        .assert_error(404, "not_found");
    let theirs = app
        .client
        .get("/v1/integrations/shopify/shops", Some(&acme))
        .await;
    assert_eq!(theirs.body["data"][0]["id"], id);

    // The default organization installs too: its own connection of the same shop.
    let r = install(&app, app.owner(), "default-code").await;
    assert_ne!(r.body["id"], id);
    assert_eq!(connections(&app).await, 2);
}

async fn install_needs_the_permission_a_configured_app_and_a_shop_domain(b: Backend) {
    let Some(app) = app(b).await else { return };
    let viewer = second_org_key(&app, &[Permission::DataRead]).await;
    let path = format!("/v1/integrations/shopify/install?shop={DOMAIN}");
    app.client
        .get(&path, Some(&viewer))
        .await
        .assert_error(403, "insufficient_permissions");
    app.client
        .get(&path, None)
        .await
        .assert_error(401, "missing_credentials");
    let r = app
        .client
        .get(
            "/v1/integrations/shopify/install?shop=evil.example.com",
            Some(app.owner()),
        )
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "shop");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM shopify_install_states").await,
        0
    );

    let Some(plain) = app_with(b, false).await else {
        return;
    };
    let r = plain.client.get(&path, Some(plain.owner())).await;
    r.assert_error(503, "shopify_app_not_configured");
    assert!(r.text.contains("SHOPIFY_API_KEY"), "{}", r.text);
}

async fn repair_recreates_a_deleted_subscription_and_leaves_a_foreign_one_alone(b: Backend) {
    let Some(app) = app(b).await else { return };
    let r = install(&app, app.owner(), "c").await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    synced(&app, app.owner(), &id).await;
    app.fake.drop_subscriptions("ORDERS_CREATE");
    let foreign = app
        .fake
        .state()
        .add_subscription("ORDERS_CREATE", "https://erp.example.test/hooks");

    let path = format!("/v1/integrations/shopify/shops/{id}/webhooks");
    let listed = app.client.get(&path, Some(app.owner())).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["address"], HOOKS);
    assert_eq!(listed.body["missing"], json!(["orders/create"]));
    assert_eq!(listed.body["foreign"][0]["id"], foreign.id.as_str());
    assert_eq!(
        listed.body["subscriptions"].as_array().unwrap().len(),
        SUBSCRIBED_TOPICS.len() - 1
    );

    let repaired = app
        .client
        .post(&format!("{path}/repair"), Some(app.owner()), json!({}))
        .await;
    assert_eq!(repaired.status, 200, "{}", repaired.text);
    assert_eq!(repaired.body["created"], json!(["orders/create"]));
    assert_eq!(repaired.body["missing"], json!([]));
    assert!(registered(&app.fake).contains(&"orders/create".to_owned()));
    assert!(
        app.fake.subscriptions().contains(&foreign),
        "the foreign one stays"
    );

    // A sync repairs too.
    app.fake.drop_subscriptions("APP_UNINSTALLED");
    let sync = app
        .client
        .post(
            &format!("/v1/integrations/shopify/shops/{id}/sync"),
            Some(app.owner()),
            json!({}),
        )
        .await;
    let result = app.job_result(&sync).await;
    assert_eq!(result["webhooks"]["created"], json!(["app/uninstalled"]));
    assert_eq!(registered(&app.fake).len(), SUBSCRIBED_TOPICS.len());
    assert!(app.fake.subscriptions().contains(&foreign));
}

async fn disconnect_removes_conea_subscriptions_and_leaves_foreign_ones(b: Backend) {
    let Some(app) = app_with(b, false).await else {
        return;
    };
    // Connected with a pasted token (a custom app): Conea registers its webhooks too.
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "shpss_custom"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(registered(&app.fake).len(), SUBSCRIBED_TOPICS.len());
    let foreign = app
        .fake
        .state()
        .add_subscription("PRODUCTS_UPDATE", "https://erp.example.test/hooks");

    let id = r.body["id"].as_str().unwrap();
    let del = app
        .client
        .delete(
            &format!("/v1/integrations/shopify/shops/{id}"),
            Some(app.owner()),
        )
        .await;
    assert_eq!(del.status, 204, "{}", del.text);
    assert_eq!(app.fake.subscriptions(), vec![foreign]);
}

async fn a_token_shopify_refuses_while_managing_webhooks_marks_the_shop_unauthorized(b: Backend) {
    let Some(app) = app(b).await else { return };
    let r = install(&app, app.owner(), "c").await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    synced(&app, app.owner(), &id).await;
    app.fake.answer_401(true);
    let path = format!("/v1/integrations/shopify/shops/{id}/webhooks");
    app.client
        .get(&path, Some(app.owner()))
        .await
        .assert_error(409, "shop_not_active");
    let shop = app
        .client
        .get(
            &format!("/v1/integrations/shopify/shops/{id}"),
            Some(app.owner()),
        )
        .await;
    assert_eq!(shop.body["status"], "unauthorized");
    assert!(shop.body["status_message"]
        .as_str()
        .unwrap()
        .contains("HTTP 401"));
}

async fn sync_jobs(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.sync'").await
}

async fn scheduled_syncs_run_each_interval_and_stop_once_shopify_refuses_the_token(b: Backend) {
    let settings = [("SHOPIFY_SYNC_INTERVAL", "15m")];
    let Some(app) = app_with_settings(b, false, &settings).await else {
        return;
    };
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/shops",
            Some(app.owner()),
            json!({"shop_domain": DOMAIN, "access_token": fake::TOKEN, "api_secret": "shpss_custom"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/integrations/shopify/shops/{id}");
    // No sync is scheduled before the first one ran.
    assert_eq!(app.state.platform().shopify.tick_syncs().await.unwrap(), 0);
    let sync = app
        .client
        .post(&format!("{path}/sync"), Some(app.owner()), json!({}))
        .await;
    app.job_result(&sync).await;
    let first = app.client.get(&path, Some(app.owner())).await.body["last_sync_at"].clone();
    assert!(first.is_string());

    // Not yet due 14 minutes later; due after 15: the next sync runs by itself.
    app.clock.advance(Duration::from_secs(14 * 60));
    assert_eq!(app.state.platform().shopify.tick_syncs().await.unwrap(), 0);
    assert_eq!(sync_jobs(&app).await, 1);
    app.clock.advance(Duration::from_secs(2 * 60));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = app.client.get(&path, Some(app.owner())).await.body["last_sync_at"].clone();
        if now != first {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled sync never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sync_jobs(&app).await, 2, "one scheduled sync");
    // Its job finished too (completions are written in batches): a live sync would be the
    // answer to the next slot.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while count(
        &app,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'shopify.sync' AND state <> 'completed'",
    )
    .await
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled sync never completed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Shopify refuses the token: the next scheduled sync marks the shop, and no further one
    // is started.
    app.fake.answer_401(true);
    app.clock.advance(Duration::from_secs(16 * 60));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let shop = app.client.get(&path, Some(app.owner())).await;
        if shop.body["status"] == "unauthorized" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never unauthorized: {}",
            shop.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jobs = sync_jobs(&app).await;
    assert_eq!(jobs, 3);
    app.clock.advance(Duration::from_secs(60 * 60));
    assert_eq!(app.state.platform().shopify.tick_syncs().await.unwrap(), 0);
    assert_eq!(
        sync_jobs(&app).await,
        jobs,
        "an unauthorized shop's schedule is stopped"
    );
}

/// `POST /install-links` for the organization of `key`: the link's path and query (its
/// address is `CONEA_PUBLIC_URL`'s, which is not the test server's).
async fn install_link(app: &TestApp, key: &str, body: serde_json::Value) -> String {
    let r = app
        .client
        .post("/v1/integrations/shopify/install-links", Some(key), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let url = r.body["url"].as_str().unwrap();
    let prefix = format!("{PUBLIC}/v1/integrations/shopify/install?");
    assert!(url.starts_with(&prefix), "{url}");
    url.trim_start_matches(PUBLIC).to_owned()
}

/// Opens a link as a merchant's browser: no credential, redirects not followed (`json`:
/// as an API client instead).
async fn open_link(app: &TestApp, path_and_query: &str, json: bool) -> Resp {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = browser.get(app.client.url(path_and_query));
    if json {
        req = req.header("accept", "application/json");
    }
    conea_testkit::Client::read(req.send().await.unwrap()).await
}

/// Install states a callback could take (link records aside).
async fn callback_states(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) FROM shopify_install_states WHERE state_hash NOT LIKE 'link:%'",
    )
    .await
}

/// The link's query with `name` set to `value`.
fn with_param(path_and_query: &str, name: &str, value: &str) -> String {
    let u = url::Url::parse(&format!("http://x{path_and_query}")).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        q.append_pair(k, v);
    }
    format!("{}?{}", u.path(), q.finish())
}

async fn a_signed_install_link_opened_without_a_credential_connects_the_shop_to_the_links_organization(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    // A member of Acme makes the link; the merchant who opens it holds no Conea credential.
    let acme = second_org_key(&app, &[Permission::IntegrationsManage]).await;
    let r = app
        .client
        .post(
            "/v1/integrations/shopify/install-links",
            Some(&acme),
            json!({"shop": "Fake-Shop.myshopify.com", "expires_in": 3600}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["shop"], DOMAIN);
    let expires_at = r.body["expires_at"].as_str().unwrap();
    assert_eq!(
        expires_at,
        conea_core::clock::rfc3339(app.clock.now_ms() + 3_600_000),
        "an hour from now"
    );
    let link = r.body["url"].as_str().unwrap().trim_start_matches(PUBLIC);
    assert_eq!(
        callback_states(&app).await,
        0,
        "no state before it is opened"
    );

    let opened = open_link(&app, link, false).await;
    assert_eq!(opened.status, 302, "{}", opened.text);
    assert_eq!(opened.header("cache-control"), Some("no-store"));
    let consent = url::Url::parse(opened.header("location").unwrap()).unwrap();
    assert_eq!(
        format!(
            "{}{}",
            consent.origin().ascii_serialization(),
            consent.path()
        ),
        format!("{}/admin/oauth/authorize", app.fake.base_url)
    );
    assert_eq!(param(&consent, "client_id"), APP_ID);
    assert_eq!(
        param(&consent, "redirect_uri"),
        format!("{PUBLIC}/v1/integrations/shopify/callback")
    );
    assert_eq!(callback_states(&app).await, 1, "one single-use state");

    // The merchant approves at the fake Shopify; its callback connects the shop to Acme.
    app.fake.issue_code("link-code");
    let query = callback_query(DOMAIN, &param(&consent, "state"), "link-code", APP_SECRET);
    let page = callback(&app, &query, false).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("is connected"), "{}", page.text);
    let theirs = app
        .client
        .get("/v1/integrations/shopify/shops", Some(&acme))
        .await;
    assert_eq!(
        theirs.body["data"][0]["shop_domain"], DOMAIN,
        "{}",
        theirs.text
    );
    assert_eq!(theirs.body["data"][0]["status"], "active");
    let mine = app
        .client
        .get("/v1/integrations/shopify/shops", Some(app.owner()))
        .await;
    assert_eq!(
        mine.body["data"],
        json!([]),
        "not the default organization's"
    );
    assert_eq!(connections(&app).await, 1);
}

async fn refused_install_links_answer_a_page_or_the_error_body_and_store_nothing(b: Backend) {
    let Some(app) = app(b).await else { return };
    let link = install_link(&app, app.owner(), json!({"shop": DOMAIN})).await;
    let token = url::Url::parse(&format!("http://x{link}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "link")
        .unwrap()
        .1
        .into_owned();

    // Tampered: the claims changed (another shop), the signature kept. A browser gets a page.
    let parts: Vec<&str> = token.split('.').collect();
    let other_claims = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["shop"] = json!("other-shop.myshopify.com");
        b64.encode(serde_json::to_vec(&claims).unwrap())
    };
    let tampered = format!("v1.{other_claims}.{}", parts[2]);
    let forged = with_param(
        &with_param(&link, "link", &tampered),
        "shop",
        "other-shop.myshopify.com",
    );
    let page = open_link(&app, &forged, false).await;
    assert_eq!(page.status, 401, "{}", page.text);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text.contains("invalid_install_link"), "{}", page.text);
    assert!(page.text.contains(page.header("x-request-id").unwrap()));
    open_link(&app, &forged, true)
        .await
        .assert_error(401, "invalid_install_link");
    // Signed by another server's key; and no token at all.
    let foreign =
        conea_shopify::install_link::LinkKey::derive("another-servers-secret-key-0123456789")
            .issue(
                &app.state
                    .platform()
                    .accounts
                    .org_by_slug("default")
                    .await
                    .unwrap()
                    .id
                    .to_string(),
                DOMAIN,
                app.clock.now_ms() + 3_600_000,
            )
            .0;
    open_link(&app, &with_param(&link, "link", &foreign), true)
        .await
        .assert_error(401, "invalid_install_link");
    open_link(&app, &with_param(&link, "link", "garbage"), true)
        .await
        .assert_error(401, "invalid_install_link");

    // Opened for another shop than it was made for.
    let r = open_link(
        &app,
        &with_param(&link, "shop", "other-shop.myshopify.com"),
        true,
    )
    .await;
    r.assert_error(422, "install_shop_mismatch");
    assert!(r.text.contains("for fake-shop.myshopify.com"), "{}", r.text);

    // None of those stored a state or used the link up.
    assert_eq!(callback_states(&app).await, 0, "nothing stored");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM shopify_install_states WHERE used_at IS NOT NULL"
        )
        .await,
        0
    );

    // Reused: the first opening goes to Shopify, the second is refused (a page, too).
    assert_eq!(open_link(&app, &link, false).await.status, 302);
    assert_eq!(callback_states(&app).await, 1);
    let again = open_link(&app, &link, false).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("install_link_used"), "{}", again.text);
    open_link(&app, &link, true)
        .await
        .assert_error(409, "install_link_used");
    assert_eq!(callback_states(&app).await, 1, "the reuse stored no state");

    // Expired: opened after its expiry (a minute's link, 61 seconds later).
    let short = install_link(&app, app.owner(), json!({"shop": DOMAIN, "expires_in": 60})).await;
    app.clock.advance(Duration::from_secs(61));
    let r = open_link(&app, &short, true).await;
    r.assert_error(422, "install_link_expired");
    assert_eq!(r.body["error"]["details"]["param"], "link");
    assert_eq!(
        callback_states(&app).await,
        1,
        "the expired link stored no state"
    );
    assert_eq!(connections(&app).await, 0);
    assert_eq!(app.fake.state().oauth_exchanged, 0);
}

async fn install_links_need_the_permission_a_configured_app_a_shop_domain_and_a_bounded_expiry(
    b: Backend,
) {
    let Some(app) = app(b).await else { return };
    let path = "/v1/integrations/shopify/install-links";
    let viewer = second_org_key(&app, &[Permission::DataRead]).await;
    app.client
        .post(path, Some(&viewer), json!({"shop": DOMAIN}))
        .await
        .assert_error(403, "insufficient_permissions");
    app.client
        .post(path, None, json!({"shop": DOMAIN}))
        .await
        .assert_error(401, "missing_credentials");
    let r = app
        .client
        .post(path, Some(app.owner()), json!({"shop": "evil.example.com"}))
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "shop");
    for bad in [59, 7 * 24 * 3600 + 1] {
        let r = app
            .client
            .post(
                path,
                Some(app.owner()),
                json!({"shop": DOMAIN, "expires_in": bad}),
            )
            .await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.body["error"]["details"]["param"], "expires_in");
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM shopify_install_states").await,
        0
    );
    // The default expiry: 24 hours.
    let r = app
        .client
        .post(path, Some(app.owner()), json!({"shop": DOMAIN}))
        .await;
    assert_eq!(
        r.body["expires_at"],
        conea_core::clock::rfc3339(app.clock.now_ms() + 24 * 3_600_000)
    );
    // Without a `link`, the install itself still needs a credential.
    app.client
        .get(
            &format!("/v1/integrations/shopify/install?shop={DOMAIN}"),
            None,
        )
        .await
        .assert_error(401, "missing_credentials");

    let Some(plain) = app_with(b, false).await else {
        return;
    };
    plain
        .client
        .post(path, Some(plain.owner()), json!({"shop": DOMAIN}))
        .await
        .assert_error(503, "shopify_app_not_configured");
}
