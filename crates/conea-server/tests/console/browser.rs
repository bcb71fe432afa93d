//! The console in a real headless Chromium, driven through WebDriver (`chromedriver` and the
//! `fantoccini` crate), against the real application: sign in and out, every page with the
//! imported data, a key's secret shown once, a job cancelled, a viewer who sees no cancel
//! button and is refused when posting it anyway, a forged form refused, the Japanese pages.
//!
//! Without Chromium and chromedriver (Debian: `apt-get install chromium chromium-driver`)
//! the tests print one line and skip; under `CONEA_REQUIRE_SERVICES=1` they fail. A failing
//! test saves a screenshot of the page under the target directory
//! (`<target>/tmp/console-screenshots/<test>.png`).

// The tests look for the browser on this machine and read CONEA_REQUIRE_SERVICES.
#![allow(clippy::disallowed_methods)]

use crate::fixture::{escalation_policy, seeded_with, Seeded, ADMIN, PASSWORD, VIEWER};
use conea_testkit::Backend;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::json;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHROMIUM: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const CHROMEDRIVER: [&str; 1] = ["/usr/bin/chromedriver"];

/// One browser at a time: the machine is small and Chromium is not.
static ONE_BROWSER: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

fn found(candidates: &[&'static str]) -> Option<&'static str> {
    candidates.iter().copied().find(|p| Path::new(p).exists())
}

/// The browser and driver, or `None` after saying why (a failure when services are
/// required).
fn programs() -> Option<(&'static str, &'static str)> {
    match (found(&CHROMIUM), found(&CHROMEDRIVER)) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            let why = "Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)";
            if std::env::var("CONEA_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
                panic!("{why}, but CONEA_REQUIRE_SERVICES=1 requires the browser tests to run");
            }
            eprintln!("skipping browser test: {why}");
            None
        }
    }
}

struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

async fn start_browser() -> Option<Browser> {
    let (chromium, chromedriver) = programs()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let driver = tokio::process::Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
        }
    };
    Some(Browser {
        client,
        _driver: driver,
        _profile: profile,
    })
}

fn screenshot_path(test: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("console-screenshots")
        .join(format!("{test}.png"))
}

/// Runs a browser test; on a failure saves a screenshot of the page, then fails.
async fn run<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Seeded, Client) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(test, &[], body).await
}

/// As [`run`], with settings for the app.
async fn run_with<F, Fut>(test: &str, overrides: &[(&str, &str)], body: F)
where
    F: FnOnce(Seeded, Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some((_, _)) = programs() else { return };
    let _one = ONE_BROWSER.acquire().await.unwrap();
    let Some(s) = seeded_with(Backend::Sqlite, overrides).await else {
        return;
    };
    let Some(browser) = start_browser().await else {
        return;
    };
    let client = browser.client.clone();
    let outcome = AssertUnwindSafe(body(s, client.clone()))
        .catch_unwind()
        .await;
    if let Err(panic) = outcome {
        let path = screenshot_path(test);
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::create_dir_all(path.parent().unwrap());
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot of the failure: {}", path.display());
        }
        let _ = browser.client.close().await;
        std::panic::resume_unwind(panic);
    }
    let _ = browser.client.close().await;
}

/// The text of the first element matching `css`, once the page has one (it may still be
/// loading after a click, and an element found on the old page goes stale when the new one
/// arrives: it is looked up again).
async fn text_of(c: &Client, css: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(text) = e.text().await {
                return text;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no element {css} with a text within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the first element matching `css` holds `expected` (a click's navigation is
/// not awaited, so the old page may still be there, and an element gone stale is looked up
/// again).
async fn until_text(c: &Client, css: &str, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = match c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now.contains(expected) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} says {now:?}, waiting for {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser is at `path` (a click's navigation is not awaited by WebDriver).
async fn wait_path(c: &Client, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = c.current_url().await.unwrap().path().to_owned();
        if now == path {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still at {now}, waiting for {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(c: &Client, base: &str, email: &str) {
    // `/` for a browser goes to the console, which sends a stranger to the sign-in form.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_path(c, "/console/login").await;
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(c, "/console").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_open_every_page_with_data_and_sign_out_in_a_browser() {
    run("sign_in_every_page_sign_out", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        let main = text_of(&c, "main").await;
        assert!(main.contains("¥12,960"), "{main}");
        assert!(c.find(Locator::Css("main svg.chart rect")).await.is_ok());
        for (link, expect) in [
            ("/console/data/orders", "#5004"),
            ("/console/jobs", s.job_id.as_str()),
            ("/console/operations", "Database"),
            ("/console/settings/keys", "bootstrap owner key"),
        ] {
            c.find(Locator::Css(&format!("nav a[href='{link}']")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_path(&c, link).await;
            let main = text_of(&c, "main").await;
            assert!(main.contains(expect), "{link}: {main}");
        }
        // An order's detail from its list, with its line items.
        c.goto(&format!("{base}/console/data/orders"))
            .await
            .unwrap();
        c.find(Locator::LinkText("#5002"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(text_of(&c, "main").await.contains("Matcha bowl"));
        c.find(Locator::Css("header form[action='/console/logout'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // the click's navigation is not awaited: wait for the signed-out page's text
        until_text(&c, "main", "You are signed out.").await;
        c.goto(&format!("{base}/console/jobs")).await.unwrap();
        wait_path(&c, "/console/login").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_api_key_shows_its_secret_once_in_a_browser() {
    run("a_new_api_key_shows_its_secret_once", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.goto(&format!("{base}/console/settings/keys"))
            .await
            .unwrap();
        c.find(Locator::Id("key-name"))
            .await
            .unwrap()
            .send_keys("reporting")
            .await
            .unwrap();
        c.find(Locator::Css(
            "form[action='/console/settings/keys'] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        let secret = text_of(&c, "#new-secret").await;
        assert!(secret.starts_with("conea_"), "{secret}");
        // The key works against the API, and the page never shows the secret again.
        let r = s.app.client.get("/v1/auth/verify", Some(&secret)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        c.goto(&format!("{base}/console/settings/keys"))
            .await
            .unwrap();
        let source = c.source().await.unwrap();
        assert!(source.contains("reporting"));
        assert!(!source.contains(&secret));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cancels_a_job_and_a_viewer_has_no_such_button_and_is_refused() {
    run("cancel_a_job_and_viewer_refused", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, VIEWER).await;
        c.goto(&format!("{base}/console/jobs")).await.unwrap();
        assert!(text_of(&c, "main").await.contains(&s.job_id));
        assert!(c
            .find_all(Locator::Css("form[action$='/cancel']"))
            .await
            .unwrap()
            .is_empty());
        // Posting it anyway (with the viewer's own valid CSRF token) is refused.
        let action = format!("/console/jobs/{}/cancel", s.job_id);
        c.execute(
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];
             const t = document.querySelector('input[name=csrf]').cloneNode();
             f.appendChild(t); document.body.appendChild(f); f.submit();",
            vec![json!(action)],
        )
        .await
        .unwrap();
        wait_path(&c, &action).await;
        let main = text_of(&c, "main").await;
        assert!(main.contains("jobs:write"), "{main}");
        let job = s
            .app
            .state
            .platform()
            .jobs
            .get_any(&s.job_id)
            .await
            .unwrap();
        assert_eq!(job.state.as_str(), "scheduled");
        c.delete_all_cookies().await.unwrap();

        sign_in(&c, &base, ADMIN).await;
        c.goto(&format!("{base}/console/jobs")).await.unwrap();
        c.find(Locator::Css(&format!("form[action='{action}'] button")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The script asks first.
        c.accept_alert().await.unwrap();
        // The answer is the list again, with the job cancelled.
        // Shown as a label; the raw state stays in data-state.
        let row = format!(
            "tr[data-job='{}'] .job-state[data-state=cancelled]",
            s.job_id
        );
        until_text(&c, &row, "Cancelled").await;
        let job = s
            .app
            .state
            .platform()
            .jobs
            .get_any(&s.job_id)
            .await
            .unwrap();
        assert_eq!(job.state.as_str(), "cancelled");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_form_without_the_csrf_token_is_refused_in_a_browser() {
    run("a_forged_form_is_refused", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.execute(
            "const f = document.createElement('form'); f.method = 'post';
             f.action = '/console/settings/keys';
             const n = document.createElement('input'); n.name = 'name'; n.value = 'forged';
             f.appendChild(n); document.body.appendChild(f); f.submit();",
            vec![],
        )
        .await
        .unwrap();
        wait_path(&c, "/console/settings/keys").await;
        let main = text_of(&c, "main").await;
        assert!(main.contains("stale or forged"), "{main}");
        let keys = s.app.state.accounts().list_keys_of(&s.org).await.unwrap();
        assert!(keys.iter().all(|k| k.name != "forged"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_japanese_pages_render_japanese_in_a_browser() {
    run("the_japanese_pages_render_japanese", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.find(Locator::Css("header a[hreflang=ja]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let lang = c
            .find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap();
        assert_eq!(lang.as_deref(), Some("ja"));
        assert_eq!(text_of(&c, "main h1").await, "概要");
        let main = text_of(&c, "main").await;
        assert!(
            main.contains("純売上") && main.contains("¥12,960"),
            "{main}"
        );
        assert!(
            main.contains('年') && main.contains('日'),
            "dates in Japanese: {main}"
        );
        // Remembered: the next page is Japanese too.
        c.goto(&format!("{base}/console/jobs")).await.unwrap();
        assert_eq!(text_of(&c, "main h1").await, "ジョブ");
        let state = format!(
            "tr[data-job='{}'] .job-state[data-state=scheduled]",
            s.job_id
        );
        assert_eq!(text_of(&c, &state).await, "予約済み");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_gets_a_note_and_an_escalation_and_shows_its_timeline_and_postmortem_in_a_browser(
) {
    let (_dir, policy) = escalation_policy();
    let settings = [("CONEA_ESCALATION_CONFIG", policy.as_str())];
    run_with(
        "incident_note_escalate_timeline",
        &settings,
        |s, c| async move {
            let base = s.app.base_url.clone();
            let r = s
                .app
                .client
                .post(
                    "/v1/incidents",
                    Some(s.app.owner()),
                    json!({"title": "Checkout is slow", "severity": "high"}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            let id = r.body["id"].as_str().unwrap().to_owned();
            sign_in(&c, &base, ADMIN).await;
            c.goto(&format!("{base}/console/incidents")).await.unwrap();
            c.find(Locator::LinkText("Checkout is slow"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let page = format!("/console/incidents/{id}");
            wait_path(&c, &page).await;
            c.find(Locator::Id("note-text"))
                .await
                .unwrap()
                .send_keys("Rolled back the deploy")
                .await
                .unwrap();
            c.find(Locator::Css("form[action$='/notes'] button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            assert!(text_of(&c, "main [role=status]").await.contains("note"));
            assert!(text_of(&c, "ol.timeline")
                .await
                .contains("Rolled back the deploy"));
            assert!(text_of(&c, "#postmortem")
                .await
                .contains("Rolled back the deploy"));
            c.find(Locator::Css("form[action$='/escalate'] button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            c.accept_alert().await.unwrap();
            assert!(text_of(&c, "main [role=status]")
                .await
                .contains("escalated"));
            let timeline = text_of(&c, "ol.timeline").await;
            assert!(timeline.contains("Manual escalation"), "{timeline}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_runs_as_a_chart_and_a_table_and_a_schedule_is_created_and_disabled_in_a_browser()
{
    run("report_and_schedule", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.find(Locator::Css("nav a[href='/console/reports']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_path(&c, "/console/reports").await;
        c.find(Locator::Css("#report option[value=sales_over_time]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css("form[action='/console/reports'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let result = text_of(&c, "#report-result").await;
        assert!(result.contains("Sales over time"), "{result}");
        assert!(result.contains("3400"), "a bucket's net sales: {result}");
        assert!(c
            .find(Locator::Css("#report-result svg.chart rect"))
            .await
            .is_ok());
        c.find(Locator::Id("new-cron"))
            .await
            .unwrap()
            .send_keys("0 9 * * 1")
            .await
            .unwrap();
        c.find(Locator::Id("new-target"))
            .await
            .unwrap()
            .send_keys("https://hooks.example.com/conea")
            .await
            .unwrap();
        c.find(Locator::Css("form[action='/console/schedules'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(text_of(&c, "#new-secret").await.starts_with("whsec_"));
        assert_eq!(text_of(&c, ".schedule-state").await, "Enabled");
        c.find(Locator::Css("form[action$='/enabled'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until_text(&c, ".schedule-state", "Disabled").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_file_shows_its_progress_bar_reaching_100_percent_in_a_browser() {
    run("import_progress", |s, c| async move {
        let base = s.app.base_url.clone();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.ndjson");
        let lines: Vec<String> = (0..2000)
            .map(|i| crate::fixture::order(&s.app, 20_000 + i, 3, "250", 2).to_string())
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        sign_in(&c, &base, ADMIN).await;
        c.goto(&format!("{base}/console/data/orders")).await.unwrap();
        c.find(Locator::Css("main a[href='/console/data/import']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_path(&c, "/console/data/import").await;
        c.find(Locator::Css("#import-kind option[value=orders]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Id("import-file"))
            .await
            .unwrap()
            .send_keys(&path.display().to_string())
            .await
            .unwrap();
        c.find(Locator::Css("form[action='/console/data/import'] button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The status page's bar follows the job until it is full.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            // The bar's value as the page has it now (set by the script while it polls).
            let value = c
                .execute(
                    "const p = document.getElementById('import-progress'); return p ? p.value : null;",
                    vec![],
                )
                .await
                .ok();
            if value.as_ref().and_then(|v| v.as_f64()) == Some(100.0) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the progress bar stays at {value:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(text_of(&c, "#import-inserted").await, "2000");
        assert_eq!(text_of(&c, "#import-percent").await, "100%");
        until_text(&c, "#import-message", "2000 rows imported, 0 rejected").await;
        // The job's note in Japanese on the same page.
        let here = c.current_url().await.unwrap();
        c.goto(&format!("{base}/console/lang?to=ja&back={}", here.path()))
            .await
            .unwrap();
        until_text(&c, "#import-message", "2,000 行を取り込み、0 行を拒否").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_changes_a_members_role_and_removes_them_in_a_browser() {
    run("members_role_and_remove", |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.find(Locator::Css("nav a[href='/console/settings/members']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_path(&c, "/console/settings/members").await;
        let row = format!("tr[data-member='{}']", s.viewer_id);
        c.find(Locator::Css(&format!("{row} select option[value=member]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css(&format!("{row} form[action$='/role'] button")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert!(text_of(&c, "main [role=status]").await.contains("role"));
        until_text(&c, &format!("{row} .member-role"), "Member").await;
        c.find(Locator::Css(&format!(
            "{row} form[action$='/remove'] button"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        c.accept_alert().await.unwrap();
        assert!(text_of(&c, "main [role=status]").await.contains("removed"));
        assert!(c.find_all(Locator::Css(&row)).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_a_keys_rate_limit_on_the_budgets_and_limits_page_in_a_browser() {
    run("key_rate_limit", |s, c| async move {
        let created = s
            .app
            .state
            .accounts()
            .create_key(
                None,
                &s.org,
                "nightly feed",
                [conea_core::permissions::Permission::DataRead]
                    .into_iter()
                    .collect(),
                None,
            )
            .await
            .unwrap();
        let key = created.key.id.as_str().to_owned();
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.find(Locator::Css("nav a[href='/console/settings/limits']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_path(&c, "/console/settings/limits").await;
        // Every field has its label.
        for id in ["limit-key", "key-per-minute", "key-burst"] {
            assert!(!c
                .find_all(Locator::Css(&format!("label[for='{id}']")))
                .await
                .unwrap()
                .is_empty());
        }
        c.find(Locator::Css(&format!("#limit-key option[value='{key}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Id("key-per-minute"))
            .await
            .unwrap()
            .send_keys("42")
            .await
            .unwrap();
        c.find(Locator::Css(
            "form[action$='/limits/keys'] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        assert!(text_of(&c, "main [role=status]")
            .await
            .contains("rate limit was saved"));
        let row = text_of(&c, &format!("#key-limits tr[data-key='{key}']")).await;
        assert!(row.contains("nightly feed") && row.contains("42"), "{row}");
        let saved = s.app.state.limits().list_overrides().await.unwrap();
        assert!(saved
            .iter()
            .any(|o| o.subject_id == key && o.per_minute == 42 && o.burst.is_none()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_with_its_figures_and_tool_calls_beside_it_in_a_browser() {
    let url = crate::fake_ai::start().await;
    let settings = [
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", url.as_str()),
        ("CONEA_INSIGHTS_MODEL", "openai/gpt-test"),
        ("CONEA_AI_MAX_RETRIES", "0"),
    ];
    run_with("ask_a_question", &settings, |s, c| async move {
        let base = s.app.base_url.clone();
        sign_in(&c, &base, ADMIN).await;
        c.find(Locator::Css("nav a[href='/console/ask']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_path(&c, "/console/ask").await;
        c.find(Locator::Id("question"))
            .await
            .unwrap()
            .send_keys("How much did I sell?")
            .await
            .unwrap();
        // The script streams the answer into this page: no navigation.
        c.execute("window.conea_stayed = true;", vec![])
            .await
            .unwrap();
        c.find(Locator::Css(
            "form[action='/console/ask'] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        let answer = text_of(&c, "#answer-text").await;
        let stayed = c
            .execute("return window.conea_stayed === true;", vec![])
            .await
            .unwrap();
        assert_eq!(stayed, json!(true), "streamed, not posted");
        assert!(answer.contains("You had 4 orders"), "{answer}");
        assert!(answer.contains("12960"), "{answer}");
        let grounding = text_of(&c, "#grounding").await;
        assert!(
            grounding.contains("comes from a tool result"),
            "{grounding}"
        );
        let evidence = text_of(&c, "#evidence-section").await;
        assert!(evidence.contains("sales_over_time"), "{evidence}");
        assert!(c.find(Locator::Css("details.figure-result")).await.is_ok());
        // The question stays in the form.
        let kept = c
            .find(Locator::Id("question"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some("How much did I sell?"));
        // The question started a thread: continue it with a follow-up.
        c.find(Locator::Id("continue-thread"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !c
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/console/ask/threads/")
        {
            assert!(std::time::Instant::now() < deadline, "no thread page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(text_of(&c, "#m1 h2").await, "How much did I sell?");
        c.find(Locator::Id("question"))
            .await
            .unwrap()
            .send_keys("And the orders?")
            .await
            .unwrap();
        c.find(Locator::Css(
            "form[action^='/console/ask/threads/'] button[type=submit]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        assert_eq!(text_of(&c, "#m2 h2").await, "And the orders?");
        assert!(text_of(&c, "#m2 #answer-text").await.contains("orders"));
        // Streamed, then the thread's page at the new message (`?m=` is the stream's `done`;
        // the form posted without script redirects to the thread without it).
        let at = c.current_url().await.unwrap();
        assert_eq!(
            (at.query(), at.fragment()),
            (Some("m=2"), Some("m2")),
            "{at}"
        );
        // The ask page lists the thread.
        c.goto(&format!("{base}/console/ask")).await.unwrap();
        let threads = text_of(&c, "ul.threads").await;
        assert!(
            threads.contains("How much did I sell?") && threads.contains("2 questions"),
            "{threads}"
        );
    })
    .await;
}

/// Screenshots of every page in English and Japanese (and the overview at a phone's width)
/// for the docs: `cargo test -p conea-server --test console -- --ignored screenshots`
/// writes `docs/console/*.png` (with a CJK font installed, e.g. Debian's `fonts-noto-cjk`,
/// or the Japanese pages show empty boxes). Data: 1,500 orders of the last 29 days from
/// `bench/gen_orders.py` (the generated data set), the fixture's records, an incident with
/// a note, a schedule, and an answer of the scripted fake AI provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/console/*.png; run by hand"]
async fn screenshots_of_every_page_in_both_languages() {
    use conea_testkit::fake_shopify::{self as fake, Counts, FakeShopify};
    let url = crate::fake_ai::start().await;
    let shopify = FakeShopify::start(conea_core::FakeClock::starting_now(), Counts::of(0)).await;
    let settings = [
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", url.as_str()),
        ("CONEA_INSIGHTS_MODEL", "openai/gpt-test"),
        ("CONEA_AI_MAX_RETRIES", "0"),
        ("SHOPIFY_BASE_URL", shopify.base_url.as_str()),
    ];
    run_with("screenshots", &settings, |s, c| async move {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = root.join("docs/console");
        std::fs::create_dir_all(&out).unwrap();
        let start = jiff::Timestamp::from_millisecond(
            conea_core::Clock::now_ms(&s.app.clock) - 29 * 86_400_000,
        )
        .unwrap()
        .to_string();
        let generated = std::process::Command::new("python3")
            .arg(root.join("bench/gen_orders.py"))
            .args(["1500", "--seed", "7", "--currency", "JPY", "--days", "29", "--start"])
            .arg(&start[..10])
            .output()
            .expect("python3 runs bench/gen_orders.py");
        assert!(generated.status.success(), "{generated:?}");
        crate::fixture::import(&s.app, "orders", String::from_utf8(generated.stdout).unwrap()).await;
        let base = s.app.base_url.clone();
        let owner = s.app.owner().to_owned();
        let r = s
            .app
            .client
            .post(
                "/v1/incidents",
                Some(&owner),
                json!({"title": "Checkout is slow", "severity": "high", "summary": "p99 of POST /checkout above 2 s"}),
            )
            .await;
        let incident = r.body["id"].as_str().unwrap().to_owned();
        s.app
            .client
            .post(
                &format!("/v1/incidents/{incident}/notes"),
                Some(&owner),
                json!({"text": "Rolled back the deploy of 14:02"}),
            )
            .await;
        s.app
            .client
            .post(
                "/v1/schedules",
                Some(&owner),
                json!({"report": "sales_over_time", "cron": "0 9 * * 1", "timezone": "Asia/Tokyo",
                       "deliver": [{"channel": "webhook", "target": "https://hooks.example.com/conea"}]}),
            )
            .await;
        // A Shopify shop connected with an Admin API token (the fake Shopify's).
        let r = s
            .app
            .client
            .post(
                "/v1/integrations/shopify/shops",
                Some(&owner),
                json!({"shop_domain": "fake-shop.myshopify.com",
                       "access_token": fake::TOKEN, "api_secret": "shpss_secret"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        // The owner (admin) sees every page, the AI budget too.
        let r = s
            .app
            .client
            .post(
                "/v1/users",
                Some(&owner),
                json!({"email": "owner@example.com", "password": crate::fixture::PASSWORD, "role": "owner"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        s.app
            .client
            .put(
                &format!("/v1/ai/budgets/{}", s.org.as_str()),
                Some(&owner),
                json!({"monthly_tokens": 2_000_000}),
            )
            .await;
        sign_in(&c, &base, "owner@example.com").await;
        let shot = |name: String| {
            let c = c.clone();
            let path = out.join(format!("{name}.png"));
            async move {
                // Let the page settle (fonts, the script's first poll).
                tokio::time::sleep(Duration::from_millis(300)).await;
                let png = c.screenshot().await.unwrap();
                std::fs::write(&path, png).unwrap();
            }
        };
        let pages = [
            ("overview", "/console".to_owned()),
            ("data-orders", "/console/data/orders".to_owned()),
            ("data-order", "/console/data/orders/5002".to_owned()),
            ("reports", "/console/reports?report=sales_over_time&granularity=week".to_owned()),
            ("jobs", "/console/jobs".to_owned()),
            ("incidents", "/console/incidents".to_owned()),
            ("incident", format!("/console/incidents/{incident}")),
            ("shopify", "/console/shopify".to_owned()),
            ("operations", "/console/operations".to_owned()),
            ("keys", "/console/settings/keys".to_owned()),
            ("members", "/console/settings/members".to_owned()),
            ("limits", "/console/settings/limits".to_owned()),
            ("import", "/console/data/import".to_owned()),
            ("time-zone", "/console/time-zone".to_owned()),
        ];
        c.set_window_size(1100, 860).await.unwrap();
        for lang in ["en", "ja"] {
            c.goto(&format!("{base}/console/lang?to={lang}&back=/console")).await.unwrap();
            wait_path(&c, "/console").await;
            for (name, path) in &pages {
                c.goto(&format!("{base}{path}")).await.unwrap();
                text_of(&c, "main h1").await;
                shot(format!("{lang}-{name}")).await;
            }
            c.goto(&format!("{base}/console/ask")).await.unwrap();
            let q = if lang == "ja" { "直近の売上は？" } else { "How much did I sell lately?" };
            c.find(Locator::Id("question")).await.unwrap().send_keys(q).await.unwrap();
            c.find(Locator::Css("form[action='/console/ask'] button[type=submit]"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            text_of(&c, "#answer-text").await;
            shot(format!("{lang}-ask")).await;
            c.find(Locator::Id("continue-thread")).await.unwrap().click().await.unwrap();
            text_of(&c, "#m1 h2").await;
            shot(format!("{lang}-thread")).await;
        }
        c.set_window_size(390, 844).await.unwrap();
        for (name, path) in [("overview", "/console"), ("jobs", "/console/jobs"), ("reports", "/console/reports?report=product_performance")] {
            c.goto(&format!("{base}{path}")).await.unwrap();
            text_of(&c, "main h1").await;
            shot(format!("ja-phone-{name}")).await;
        }
    })
    .await;
}
