//! `conea shopify …` as a user runs it: sign and verify against vectors computed
//! independently with openssl; `shops` and `sync` against a shop connected through the API;
//! and the crash test: signed webhooks posted to `conea serve`, the server SIGKILLed right
//! after the 200s, restarted, and every acknowledged delivery found stored and processed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use conea_core::FakeClock;
use conea_testkit::fake_shopify::{self, Counts, FakeShopify};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::{runtime, Backend, Env};

/// `printf '{"id":1,"title":"T-Shirt"}' | openssl dgst -sha256 -hmac shpss_test_secret -binary | base64`
const BODY_1: &str = r#"{"id":1,"title":"T-Shirt"}"#;
const HMAC_1: &str = "aulji+GspDX61Utp1FtzBXTM5E4bKp0iOkw0b0QSm/4=";
/// `printf '' | openssl dgst -sha256 -hmac k -binary | base64`
const HMAC_EMPTY: &str = "i7mQxAp9YcuXWXqUISUCW+UKyL63RDbjc1uYiTp/ZiA=";

#[test]
fn sign_prints_the_header_value_openssl_computes() {
    let env = Env::sqlite();
    let out = env
        .run_with_stdin(
            &["shopify", "sign", "--secret", "shpss_test_secret"],
            BODY_1,
        )
        .success();
    assert_eq!(out.stdout_line(), HMAC_1);
    let out = env
        .run_with_stdin(&["shopify", "sign", "--secret", "k"], "")
        .success();
    assert_eq!(out.stdout_line(), HMAC_EMPTY);
}

#[test]
fn verify_says_valid_or_invalid_and_exits_1_when_invalid() {
    let env = Env::sqlite();
    let ok = env
        .run_with_stdin(
            &[
                "shopify",
                "verify",
                "--secret",
                "shpss_test_secret",
                "--hmac",
                HMAC_1,
            ],
            BODY_1,
        )
        .success();
    assert_eq!(ok.stdout_line(), "valid");
    for (secret, body) in [
        ("another_secret", BODY_1),
        ("shpss_test_secret", r#"{"id":1,"title":"T-shirt"}"#),
    ] {
        let bad = env.run_with_stdin(
            &["shopify", "verify", "--secret", secret, "--hmac", HMAC_1],
            body,
        );
        assert_eq!(bad.code(), Some(1), "{bad}");
        assert_eq!(bad.stdout.trim(), "invalid");
    }
}

const DOMAIN: &str = fake_shopify::SHOP;
const SECRET: &str = "shpss_crash_secret";

fn db_url(env: &Env) -> String {
    match env.backend {
        Backend::Postgres => env.var("DATABASE_URL").unwrap().to_owned(),
        Backend::Sqlite => format!("sqlite://{}/conea.db", env.data_dir().display()),
    }
}

/// (event ids stored, of those processed, products stored).
async fn stored(url: &str, backend: Backend) -> (BTreeSet<String>, BTreeSet<String>, i64) {
    macro_rules! q {
        ($pool:expr) => {{
            let rows: Vec<(String, Option<i64>)> =
                sqlx::query_as("SELECT dedup_key, processed_at FROM shopify_webhook_deliveries")
                    .fetch_all($pool)
                    .await
                    .unwrap();
            let products: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
                .fetch_one($pool)
                .await
                .unwrap();
            let all = rows.iter().map(|(k, _)| k.clone()).collect();
            let done = rows
                .iter()
                .filter(|(_, p)| p.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            (all, done, products)
        }};
    }
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let r = q!(&pool);
            pool.close().await;
            r
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let r = q!(&pool);
            pool.close().await;
            r
        }
    }
}

fn webhooks_acknowledged_before_sigkill_are_stored_and_processed(mut env: Env) {
    // A fake Shopify on this test's current-thread runtime: it answers only while the test
    // blocks on it (connecting checks the token with `GET shop.json`); in between, the sync
    // enqueued below waits on it, so it stays live.
    let rt = runtime();
    let fake = rt.block_on(FakeShopify::start(FakeClock::starting_now(), Counts::of(0)));
    env.set("CONEA_LOG", "warn")
        .set("CONEA_WORKER_CONCURRENCY", "2")
        .set("SHOPIFY_BASE_URL", &fake.base_url);
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let connect_url = server.url("/v1/integrations/shopify/shops");
    let webhook_url = server.url("/v1/webhooks/shopify");
    let (status, shop) = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(&connect_url)
            .bearer_auth(&key)
            .json(&json!({"shop_domain": DOMAIN, "access_token": fake_shopify::TOKEN, "api_secret": SECRET}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 201, "{shop}");

    // The CLI sees the shop and enqueues its sync.
    let shops = env
        .run(&["shopify", "shops", "--json"])
        .success()
        .stdout_json();
    assert_eq!(shops[0]["shop_domain"], DOMAIN, "{shops}");
    assert_eq!(shops[0]["status"], "active");
    let job = env
        .run(&["shopify", "sync", DOMAIN])
        .success()
        .stdout_line();
    assert!(job.starts_with("job_"), "{job}");
    let again = env
        .run(&["shopify", "sync", DOMAIN])
        .success()
        .stdout_line();
    assert_eq!(again, job, "one live sync per shop");
    let refresh = env
        .run(&["shopify", "refresh", DOMAIN, "products", "7"])
        .success()
        .stdout_line();
    assert!(refresh.starts_with("job_") && refresh != job, "{refresh}");
    let bad = env.run(&["shopify", "refresh", DOMAIN, "widgets", "7"]);
    assert_eq!(bad.code(), Some(2), "a usage error: {bad}");
    assert!(bad.stderr.contains("widgets"), "{bad}");

    // 8 concurrent senders; SIGKILL as soon as 60 deliveries were acknowledged.
    let acked: BTreeSet<String> = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let client = reqwest::Client::new();
        for sender in 0..8u64 {
            let (tx, client, url) = (tx.clone(), client.clone(), webhook_url.clone());
            tokio::spawn(async move {
                for i in 0..1000u64 {
                    let id = sender * 10_000 + i + 1;
                    let body = json!({"id": id, "title": format!("Product {id}"),
                        "updated_at": "2026-05-01T00:00:00Z", "variants": []})
                    .to_string();
                    let sent = client
                        .post(&url)
                        .header(
                            "X-Shopify-Hmac-Sha256",
                            conea_shopify::sign(body.as_bytes(), SECRET),
                        )
                        .header("X-Shopify-Shop-Domain", DOMAIN)
                        .header("X-Shopify-Topic", "products/create")
                        .header("X-Shopify-Event-Id", format!("evt-{id}"))
                        .body(body)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 200 => {
                            if tx.send(format!("evt-{id}")).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            });
        }
        drop(tx);
        let mut acked = BTreeSet::new();
        while let Some(id) = rx.recv().await {
            acked.insert(id);
            if acked.len() == 60 {
                break;
            }
        }
        server.kill9();
        // Answers that arrived before the kill count as acknowledged too.
        while let Ok(Some(id)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            acked.insert(id);
        }
        acked
    });
    assert!(acked.len() >= 60);

    let url = db_url(&env);
    let (all, _, _) = rt.block_on(stored(&url, env.backend));
    let missing: Vec<_> = acked.difference(&all).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );

    // Restarted: every acknowledged delivery gets processed.
    let server = env.serve();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (all, done, products) = rt.block_on(stored(&url, env.backend));
        if done.len() == all.len() && products as usize == all.len() {
            assert!(acked.is_subset(&done));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} deliveries processed, {products} products",
            done.len(),
            all.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);

    // `conea diagnose` names a shop whose token Shopify refused, with the fix.
    rt.block_on(exec(
        &url,
        env.backend,
        "UPDATE shopify_shops SET status = 'unauthorized', status_message = 'Shopify API error (unauthorized, HTTP 401)'",
    ));
    let out = env.run(&["diagnose", "--json"]);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "shopify.unauthorized")
        .unwrap_or_else(|| panic!("no shopify.unauthorized check: {report}"))
        .clone();
    assert_eq!(check["status"], "warn", "{check}");
    assert!(check.to_string().contains(DOMAIN), "{check}");
}

async fn exec(url: &str, backend: Backend, sql: &str) {
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

#[test]
fn sigkill_after_webhook_200s_loses_no_delivery_on_sqlite() {
    webhooks_acknowledged_before_sigkill_are_stored_and_processed(Env::sqlite());
}

#[test]
fn sigkill_after_webhook_200s_loses_no_delivery_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    webhooks_acknowledged_before_sigkill_are_stored_and_processed(env);
}

/// `conea shopify webhooks list|repair` on a shop connected through the API: `list` shows
/// the topic a merchant deleted as missing and another app's address as left alone;
/// `repair` subscribes it again at the fake Shopify and touches nothing else.
fn webhooks_list_shows_what_is_missing_and_repair_subscribes_it_again(mut env: Env) {
    // A multi-thread runtime: the fake answers while the CLI runs as its own process.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeShopify::start(FakeClock::starting_now(), Counts::of(0)));
    let hooks = "https://conea.example.test/v1/webhooks/shopify";
    env.set("CONEA_LOG", "warn")
        .set("CONEA_WORKER_CONCURRENCY", "0")
        .set("SHOPIFY_BASE_URL", &fake.base_url)
        .set("CONEA_PUBLIC_URL", "https://conea.example.test");
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let connect_url = server.url("/v1/integrations/shopify/shops");
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(&connect_url)
            .bearer_auth(&key)
            .json(&json!({"shop_domain": DOMAIN, "access_token": fake_shopify::TOKEN, "api_secret": SECRET}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 201);
    server.stop();
    let ours = |fake: &FakeShopify| {
        fake.subscriptions()
            .iter()
            .filter(|s| s.callback_url == hooks)
            .count()
    };
    assert_eq!(ours(&fake), conea_shopify::SUBSCRIBED_TOPICS.len());
    fake.drop_subscriptions("ORDERS_DELETE");
    let foreign = fake
        .state()
        .add_subscription("ORDERS_DELETE", "https://erp.example.test/hooks");

    let list = env.run(&["shopify", "webhooks", "list", DOMAIN]).success();
    assert!(list.stdout.contains(&format!("address: {hooks}")), "{list}");
    assert!(list.stdout.contains("missing: orders/delete"), "{list}");
    assert!(
        list.stdout
            .contains("other address (left alone): orders/delete https://erp.example.test/hooks"),
        "{list}"
    );
    assert_eq!(
        ours(&fake),
        conea_shopify::SUBSCRIBED_TOPICS.len() - 1,
        "list changes nothing"
    );

    let repaired = env
        .run(&["shopify", "webhooks", "repair", DOMAIN, "--json"])
        .success()
        .stdout_json();
    assert_eq!(repaired["created"], json!(["orders/delete"]), "{repaired}");
    assert_eq!(repaired["missing"], json!([]));
    assert_eq!(ours(&fake), conea_shopify::SUBSCRIBED_TOPICS.len());
    assert!(fake.subscriptions().contains(&foreign));

    let unknown = env.run(&["shopify", "webhooks", "list", "nope.myshopify.com"]);
    assert_eq!(unknown.code(), Some(1), "{unknown}");
}

#[test]
fn webhooks_list_and_repair_on_sqlite() {
    webhooks_list_shows_what_is_missing_and_repair_subscribes_it_again(Env::sqlite());
}

#[test]
fn webhooks_list_and_repair_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    webhooks_list_shows_what_is_missing_and_repair_subscribes_it_again(env);
}

/// `conea diagnose` names a shop whose API version Shopify flagged as deprecated
/// (`X-Shopify-API-Deprecated-Reason` on the answers to registering its webhooks), with the
/// fix: upgrade SHOPIFY_API_VERSION and move the shop to it.
#[test]
fn diagnose_names_a_deprecated_api_version_with_the_fix() {
    let mut env = Env::sqlite();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeShopify::start(FakeClock::starting_now(), Counts::of(0)));
    let reason = "https://shopify.dev/api/usage/versioning#deprecation-practices";
    fake.deprecate_version("2025-01", reason);
    env.set("CONEA_LOG", "warn")
        .set("CONEA_WORKER_CONCURRENCY", "0")
        .set("SHOPIFY_BASE_URL", &fake.base_url)
        .set("SHOPIFY_API_VERSION", "2025-01")
        .set("CONEA_PUBLIC_URL", "https://conea.example.test");
    env.run(&["migrate"]).success();
    let ok = env.run(&["diagnose", "--json"]);
    let before: Value = serde_json::from_str(&ok.stdout).unwrap();
    let find = |r: &Value| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "shopify.api_version")
            .cloned()
    };
    assert_eq!(
        find(&before).map(|c| c["status"].clone()),
        Some(json!("ok"))
    );
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let connect_url = server.url("/v1/integrations/shopify/shops");
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(&connect_url)
            .bearer_auth(&key)
            .json(&json!({"shop_domain": DOMAIN, "access_token": fake_shopify::TOKEN, "api_secret": SECRET}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 201);
    server.stop();
    let out = env.run(&["diagnose", "--json"]);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let check = find(&report).unwrap_or_else(|| panic!("no shopify.api_version: {report}"));
    assert_eq!(check["status"], "warn", "{check}");
    let text = check.to_string();
    assert!(
        text.contains(DOMAIN) && text.contains("2025-01") && text.contains(reason),
        "{check}"
    );
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("upgrade SHOPIFY_API_VERSION"),
        "{check}"
    );
}

/// `conea shopify install-link`: the link it prints, opened without a credential against
/// `conea serve`, goes to the fake Shopify's consent page with a state for the
/// organization; opened again it is refused (each link works once).
fn install_link_prints_a_link_that_opens_the_consent_page_once(mut env: Env) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fake = rt.block_on(FakeShopify::start(FakeClock::starting_now(), Counts::of(0)));
    let public = "https://conea.example.test";
    env.set("CONEA_LOG", "warn")
        .set("CONEA_WORKER_CONCURRENCY", "0")
        .set("SHOPIFY_BASE_URL", &fake.base_url)
        .set("SHOPIFY_API_KEY", "conea-app-client-id")
        .set("SHOPIFY_API_SECRET", "shpss_conea_app_secret")
        .set("CONEA_PUBLIC_URL", public);
    let server = env.serve();
    let made = env
        .run(&[
            "shopify",
            "install-link",
            "--shop",
            DOMAIN,
            "--expires-in",
            "2h",
            "--json",
        ])
        .success()
        .stdout_json();
    assert_eq!(made["shop"], DOMAIN);
    let url = made["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{public}/v1/integrations/shopify/install?shop=")),
        "{url}"
    );
    let local = server.url(url.trim_start_matches(public));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (first, second) = rt.block_on(async {
        let first = browser.get(&local).send().await.unwrap();
        let location = first
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let second = browser
            .get(&local)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        (
            (first.status().as_u16(), location),
            (
                second.status().as_u16(),
                second.json::<Value>().await.unwrap_or_default(),
            ),
        )
    });
    assert_eq!(first.0, 302, "opened without a credential");
    let location = first.1.unwrap();
    assert!(
        location.starts_with(&format!("{}/admin/oauth/authorize?", fake.base_url)),
        "{location}"
    );
    assert!(location.contains("state="), "{location}");
    assert_eq!(second.0, 409);
    assert_eq!(
        second.1["error"]["code"], "install_link_used",
        "{}",
        second.1
    );
    server.stop();

    let bad = env.run(&["shopify", "install-link", "--shop", "evil.example.com"]);
    assert_eq!(bad.code(), Some(1), "{bad}");
}

#[test]
fn install_link_on_sqlite() {
    install_link_prints_a_link_that_opens_the_consent_page_once(Env::sqlite());
}

#[test]
fn install_link_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    install_link_prints_a_link_that_opens_the_consent_page_once(env);
}
