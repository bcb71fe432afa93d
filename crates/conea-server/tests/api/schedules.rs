//! Report schedules through the running application, with the fake clock: the CRUD and its
//! validation (each 400 names the field), next runs in Asia/Tokyo, each slot fired once by
//! two replicas ticking together, the catch-up after downtime (only the latest slot runs,
//! the skipped ones are recorded), delivery to local Slack, webhook and SMTP fakes with a
//! verified Standard Webhooks signature, a failing destination retried with backoff and
//! visible on the schedule, another organization's schedule answering 404, and permissions.
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::sink::Sink;
use conea_core::ids::OrgId;
use conea_core::permissions::Permission;
use conea_incidents::channels::webhook::{self, WebhookSecret};
use conea_testkit::fake_smtp::{FakeSmtp, Mail};
use conea_testkit::{backend_tests, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// 2026-06-03T01:00:00Z, a Wednesday (10:00 in Tokyo).
const WED: i64 = 1_780_448_400_000;
const HOUR: i64 = 3_600_000;

// ------------------------------------------------------------ helpers

struct Env {
    app: TestApp,
    sink: Sink,
    mails: Arc<Mutex<Vec<Mail>>>,
    _smtp: FakeSmtp,
    _dir: tempfile::TempDir,
}

/// An app whose escalation policy has an e-mail channel on a fake SMTP server (the SMTP
/// server and sender schedules use), with the clock at [`WED`].
async fn env(b: Backend) -> Option<Env> {
    let sink = Sink::start().await;
    let smtp = FakeSmtp::start(false).await;
    let mails = smtp.mails.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalation.yaml");
    std::fs::write(
        &path,
        format!(
            "channels:\n  email: {{smtp_url: \"smtp://127.0.0.1:{}?tls=none\", from: \"reports@example.com\", to: [\"oncall@example.com\"]}}\n",
            smtp.port
        ),
    )
    .unwrap();
    let path = path.display().to_string();
    let app = TestApp::spawn_with(
        b,
        &[
            ("CONEA_ESCALATION_CONFIG", path.as_str()),
            ("CONEA_INCIDENT_DETECTORS", "none"),
        ],
    )
    .await?;
    app.clock.set_ms(WED);
    Some(Env {
        app,
        sink,
        mails,
        _smtp: smtp,
        _dir: dir,
    })
}

impl Env {
    async fn create(&self, body: Value) -> conea_testkit::client::Resp {
        self.app
            .client
            .post("/v1/schedules", Some(self.app.owner()), body)
            .await
    }

    async fn show(&self, id: &str) -> Value {
        let r = self
            .app
            .client
            .get(&format!("/v1/schedules/{id}"), Some(self.app.owner()))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    /// The arguments of the owner organization's `schedules.run` jobs.
    async fn run_jobs(&self) -> Vec<Value> {
        let r = self
            .app
            .client
            .get("/v1/jobs?kind=schedules.run", Some(self.app.owner()))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut args = Vec::new();
        for j in r.body["data"].as_array().unwrap() {
            let id = j["id"].as_str().unwrap();
            let job = self.app.state.platform().jobs.get_any(id).await.unwrap();
            args.push(job.args);
        }
        args
    }

    /// Waits (real time; the worker polls every 50 ms) until `cond` holds.
    async fn until<F, Fut>(&self, what: &str, cond: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !cond().await {
            assert!(
                std::time::Instant::now() < deadline,
                "never happened: {what}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn hourly(sink: &Sink) -> Value {
    json!({"report": "sales_over_time", "cron": "0 * * * *", "timezone": "UTC",
           "deliver": [{"channel": "webhook", "target": format!("{}/hook", sink.base)}]})
}

fn id_of(r: &conea_testkit::client::Resp) -> String {
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

// ------------------------------------------------------------ tests

backend_tests!(
    a_schedule_is_created_shown_listed_changed_and_deleted_with_next_runs_in_its_zone,
    each_bad_field_answers_400_naming_it,
    each_slot_fires_once_when_two_replicas_tick_together,
    after_downtime_only_the_latest_missed_slot_runs_and_the_skipped_are_recorded,
    a_run_is_delivered_to_slack_a_signed_webhook_and_email,
    a_failing_destination_is_retried_with_backoff_and_visible_on_the_schedule,
    a_run_whose_report_cannot_be_computed_gives_up_visibly,
    another_organizations_schedule_is_not_found_and_data_read_cannot_change_schedules,
);

async fn a_schedule_is_created_shown_listed_changed_and_deleted_with_next_runs_in_its_zone(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let r = env
        .create(json!({
            "report": "sales_over_time", "params": {"granularity": "day"},
            "cron": "0 9 * * MON", "timezone": "Asia/Tokyo",
            "deliver": [{"channel": "slack", "target": format!("{}/slack", env.sink.base)}]
        }))
        .await;
    let id = id_of(&r);
    assert!(id.starts_with("sch_"), "{id}");
    assert!(
        WebhookSecret::parse(r.body["webhook_secret"].as_str().unwrap()).is_ok(),
        "{}",
        r.text
    );
    assert_eq!(r.body["enabled"], true);
    assert_eq!(
        r.body["next_runs"],
        json!([
            "2026-06-08T09:00:00+09:00",
            "2026-06-15T09:00:00+09:00",
            "2026-06-22T09:00:00+09:00",
            "2026-06-29T09:00:00+09:00",
            "2026-07-06T09:00:00+09:00"
        ])
    );
    let shown = env.show(&id).await;
    assert!(shown.get("webhook_secret").is_none(), "secret shown once");
    assert_eq!(
        shown["deliver"][0]["target"],
        format!("{}/slack/…", env.sink.base),
        "a Slack URL's path is a credential"
    );
    assert_eq!(shown["params"], json!({"granularity": "day"}));
    assert_eq!(shown["skipped_slots"], 0);
    assert_eq!(shown["last_run"], Value::Null);

    let second = id_of(&env.create(hourly(&env.sink)).await);
    let page = env
        .app
        .client
        .get("/v1/schedules?limit=1", Some(env.app.owner()))
        .await;
    assert_eq!(page.body["data"][0]["id"], id.as_str(), "{}", page.text);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let page2 = env
        .app
        .client
        .get(
            &format!("/v1/schedules?limit=1&cursor={cursor}"),
            Some(env.app.owner()),
        )
        .await;
    assert_eq!(page2.body["data"][0]["id"], second.as_str());
    assert_eq!(page2.body["next_cursor"], Value::Null);

    let patched = env
        .app
        .client
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/schedules/{id}"),
            Some(env.app.owner()),
            Some(&json!({"cron": "30 8 1 * *"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["next_runs"][0], "2026-07-01T08:30:00+09:00");
    assert_eq!(
        patched.body["timezone"], "Asia/Tokyo",
        "unchanged fields stay"
    );
    let disabled = env
        .app
        .client
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/schedules/{id}"),
            Some(env.app.owner()),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(disabled.body["next_runs"], json!([]));

    let gone = env
        .app
        .client
        .delete(&format!("/v1/schedules/{id}"), Some(env.app.owner()))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    env.app
        .client
        .get(&format!("/v1/schedules/{id}"), Some(env.app.owner()))
        .await
        .assert_error(404, "not_found");

    let doc = env.app.client.get("/openapi.json", None).await;
    for (path, method) in [
        ("/v1/schedules", "post"),
        ("/v1/schedules", "get"),
        ("/v1/schedules/{id}", "get"),
        ("/v1/schedules/{id}", "patch"),
        ("/v1/schedules/{id}", "delete"),
        ("/v1/schedules/{id}/run", "post"),
    ] {
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path} is documented"
        );
    }
}

async fn each_bad_field_answers_400_naming_it(b: Backend) {
    let Some(env) = env(b).await else { return };
    let base = hourly(&env.sink);
    let with = |k: &str, v: Value| {
        let mut body = base.clone();
        body[k] = v;
        body
    };
    let cases = [
        (with("report", json!("weather")), "report"),
        (with("cron", json!("61 * * * *")), "cron"),
        (with("cron", json!("every monday")), "cron"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (
            with("deliver", json!([{"channel": "pigeon", "target": "x"}])),
            "deliver[0].channel",
        ),
        (
            with(
                "deliver",
                json!([{"channel": "webhook", "target": "not a url"}]),
            ),
            "deliver[0].target",
        ),
        (
            with("deliver", json!([{"channel": "email", "target": "nobody"}])),
            "deliver[0].target",
        ),
        (with("deliver", json!([])), "deliver"),
        (
            with("params", json!({"from": "2026-02-01", "to": "2026-01-01"})),
            "params.from",
        ),
        (
            with("params", json!({"timezone": "Nowhere/City"})),
            "params.timezone",
        ),
        (json!({"report": "inventory", "deliver": []}), "cron"),
    ];
    for (body, param) in cases {
        let r = env.create(body).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.body["error"]["details"]["param"], param, "{}", r.text);
    }
    let id = id_of(&env.create(base.clone()).await);
    let r = env
        .app
        .client
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/schedules/{id}"),
            Some(env.app.owner()),
            Some(&json!({"cron": "0 9 * *"})),
        )
        .await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.body["error"]["details"]["param"], "cron", "{}", r.text);
}

async fn each_slot_fires_once_when_two_replicas_tick_together(b: Backend) {
    let Some(env) = env(b).await else { return };
    let other = env.app.replica(&[]).await;
    let id = id_of(&env.create(hourly(&env.sink)).await);
    let slot = WED + HOUR;
    env.app.clock.set_ms(slot + 1_000);
    let mut fired = 0;
    for _ in 0..5 {
        let (a, b) = tokio::join!(
            env.app.state.platform().schedules.tick(),
            other.state.platform().schedules.tick()
        );
        fired += a.unwrap().fired + b.unwrap().fired;
    }
    // The background ticks may have fired it first; never twice.
    assert!(fired <= 1, "{fired} firings of one slot");
    let jobs = env.run_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["slot"], slot);
    assert_eq!(jobs[0]["schedule_id"], id.as_str());
    let s = env.show(&id).await;
    assert_eq!(s["last_slot_at"], "2026-06-03T02:00:00+00:00");
    assert_eq!(s["next_runs"][0], "2026-06-03T03:00:00+00:00");
    assert_eq!(s["skipped_slots"], 0);
    other.stop().await;
}

async fn after_downtime_only_the_latest_missed_slot_runs_and_the_skipped_are_recorded(b: Backend) {
    let Some(env) = env(b).await else { return };
    let id = id_of(&env.create(hourly(&env.sink)).await);
    // Down from before 02:00 until 06:30: the 02:00 to 05:00 slots were missed, 06:00 is due.
    env.app.clock.set_ms(WED + 5 * HOUR + 30 * 60_000);
    env.app.state.platform().schedules.tick().await.unwrap();
    let jobs = env.run_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["slot"], WED + 5 * HOUR);
    let s = env.show(&id).await;
    assert_eq!(s["skipped_slots"], 4, "{s}");
    assert_eq!(s["last_skipped_slot_at"], "2026-06-03T05:00:00+00:00");
    assert_eq!(s["last_slot_at"], "2026-06-03T06:00:00+00:00");
    assert_eq!(s["next_runs"][0], "2026-06-03T07:00:00+00:00");
    // Nothing more is due until 07:00.
    env.app.state.platform().schedules.tick().await.unwrap();
    assert_eq!(env.run_jobs().await.len(), 1);
}

async fn a_run_is_delivered_to_slack_a_signed_webhook_and_email(b: Backend) {
    let Some(env) = env(b).await else { return };
    // Two days of sales in the report's range, so its e-mail has a chart.
    let order = |id: u64, day: &str, price: &str| {
        json!({"id": id, "name": format!("#{id}"), "created_at": format!("{day}T03:00:00Z"),
               "updated_at": format!("{day}T03:00:00Z"), "currency": "JPY",
               "total_price": price, "subtotal_price": price, "financial_status": "paid"})
    };
    env.app
        .import_ndjson(
            "orders",
            &[
                order(1, "2026-05-20", "1000"),
                order(2, "2026-05-21", "3000"),
            ],
        )
        .await;
    let created = env
        .create(json!({
            "report": "sales_over_time", "cron": "0 9 * * MON", "timezone": "Asia/Tokyo",
            "params": {"timezone": "Asia/Tokyo"},
            "deliver": [
                {"channel": "slack", "target": format!("{}/slack", env.sink.base)},
                {"channel": "webhook", "target": format!("{}/hook", env.sink.base)},
                {"channel": "email", "target": "merchant@example.com"}
            ]
        }))
        .await;
    let id = id_of(&created);
    let secret = WebhookSecret::parse(created.body["webhook_secret"].as_str().unwrap()).unwrap();
    let accepted = env
        .app
        .client
        .post(
            &format!("/v1/schedules/{id}/run"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    let result = env.app.job_result(&accepted).await;
    assert_eq!(result["delivered"], 3, "{result}");

    let slack = env.sink.at("/slack");
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].body["blocks"][0]["type"], "header");
    assert!(slack[0].body["text"]
        .as_str()
        .unwrap()
        .starts_with("Conea report: sales_over_time"));

    let hook = env.sink.at("/hook");
    assert_eq!(hook.len(), 1);
    let h = &hook[0];
    let header = |n: &str| h.headers[n].to_str().unwrap().to_owned();
    let ts = header("webhook-timestamp");
    assert_eq!(ts, (WED / 1000).to_string());
    webhook::verify(
        &secret,
        &header("webhook-id"),
        &ts,
        &header("webhook-signature"),
        &h.raw,
        WED / 1000,
        300,
    )
    .expect("the signature verifies with the schedule's secret");
    assert_eq!(h.body["type"], "schedule.report");
    assert_eq!(h.body["data"]["schedule_id"], id.as_str());
    assert_eq!(h.body["data"]["result"]["report"], "sales_over_time");

    env.until("the e-mail arrived", || async {
        !env.mails.lock().unwrap().is_empty()
    })
    .await;
    let mail = env.mails.lock().unwrap()[0].clone();
    assert!(
        mail.commands
            .iter()
            .any(|c| c.contains("RCPT TO:<merchant@example.com>")),
        "{:?}",
        mail.commands
    );
    assert!(mail.data.contains("multipart/alternative"), "{}", mail.data);
    assert!(mail.data.contains("text/html"), "{}", mail.data);
    assert!(mail.data.contains("Subject: Conea report: sales_over_time"));
    // The chart travels as an inline PNG the HTML finds by its Content-ID.
    assert!(mail.data.contains("multipart/related"), "{}", mail.data);
    assert!(
        mail.data.contains("cid:net-sales-chart@conea"),
        "{}",
        mail.data
    );
    let png = inline_part(&mail.data, "<net-sales-chart@conea>");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the chart is a PNG");

    let s = env.show(&id).await;
    let run = &s["last_run"];
    assert_eq!(run["status"], "delivered", "{s}");
    assert_eq!(run["slot"], Value::Null);
    assert_eq!(run["deliveries"].as_array().unwrap().len(), 3);
    assert!(run["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["status"] == "delivered"));
}

async fn a_failing_destination_is_retried_with_backoff_and_visible_on_the_schedule(b: Backend) {
    let Some(env) = env(b).await else { return };
    env.sink.fail("/hook", 1);
    let id = id_of(
        &env.create(json!({
            "report": "inventory", "cron": "0 9 * * *",
            "deliver": [
                {"channel": "slack", "target": format!("{}/slack", env.sink.base)},
                {"channel": "webhook", "target": format!("{}/hook", env.sink.base)}
            ]
        }))
        .await,
    );
    let accepted = env
        .app
        .client
        .post(
            &format!("/v1/schedules/{id}/run"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    env.until("the failure is on the schedule", || async {
        env.show(&id).await["last_run"]["status"] == "failed"
    })
    .await;
    let s = env.show(&id).await;
    let hook = s["last_run"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "webhook")
        .unwrap()
        .clone();
    assert_eq!(hook["status"], "failed");
    assert!(
        hook["error"].as_str().unwrap().contains("HTTP 500"),
        "{hook}"
    );
    // The job engine retries after its backoff (2 s ± 25 % on the fake clock).
    env.app.clock.advance(Duration::from_secs(5));
    env.until("delivered after the retry", || async {
        env.show(&id).await["last_run"]["status"] == "delivered"
    })
    .await;
    assert_eq!(env.sink.at("/hook").len(), 2, "one failure, one success");
    assert_eq!(
        env.sink.at("/slack").len(),
        1,
        "the destination already delivered is not sent again"
    );
    let hook = env.show(&id).await["last_run"]["deliveries"][1].clone();
    assert_eq!(
        (hook["status"].clone(), hook["attempt"].clone()),
        (json!("delivered"), json!(2))
    );
}

async fn another_organizations_schedule_is_not_found_and_data_read_cannot_change_schedules(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let app = &env.app;
    let id = id_of(&env.create(hourly(&env.sink)).await);
    let acme = app
        .client
        .post(
            "/v1/organizations",
            Some(app.owner()),
            json!({"slug": "acme"}),
        )
        .await;
    let acme_id = OrgId::parse(acme.body["id"].as_str().unwrap()).unwrap();
    let acme_key = app
        .state
        .accounts()
        .create_key(
            None,
            &acme_id,
            "acme",
            [Permission::DataRead, Permission::DataWrite]
                .into_iter()
                .collect(),
            None,
        )
        .await
        .unwrap()
        .secret;
    let path = format!("/v1/schedules/{id}");
    app.client
        .get(&path, Some(&acme_key))
        .await
        .assert_error(404, "not_found");
    app.client
        .delete(&path, Some(&acme_key))
        .await
        .assert_error(404, "not_found");
    app.client
        .post(&format!("{path}/run"), Some(&acme_key), json!({}))
        .await
        .assert_error(404, "not_found");
    let theirs = app.client.get("/v1/schedules", Some(&acme_key)).await;
    assert_eq!(theirs.body["data"], json!([]), "{}", theirs.text);

    let mine = OrgId::parse(
        app.client
            .get("/v1/auth/verify", Some(app.owner()))
            .await
            .body["organization_id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let reader = app
        .state
        .accounts()
        .create_key(
            None,
            &mine,
            "reader",
            [Permission::DataRead].into_iter().collect(),
            None,
        )
        .await
        .unwrap()
        .secret;
    let listed = app.client.get("/v1/schedules", Some(&reader)).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    let r = app
        .client
        .post("/v1/schedules", Some(&reader), hourly(&env.sink))
        .await;
    r.assert_error(403, "insufficient_permissions");
    assert_eq!(r.body["error"]["details"]["required"], "data:write");
    app.client
        .post(&format!("{path}/run"), Some(&reader), json!({}))
        .await
        .assert_error(403, "insufficient_permissions");
}

async fn a_run_whose_report_cannot_be_computed_gives_up_visibly(b: Backend) {
    let Some(env) = env(b).await else { return };
    // Valid when created; a month later the range to "today" is longer than a report covers.
    let id = id_of(
        &env.create(json!({
            "report": "sales_over_time", "cron": "0 9 * * *",
            "params": {"from": "2016-06-10"},
            "deliver": [{"channel": "webhook", "target": format!("{}/hook", env.sink.base)}]
        }))
        .await,
    );
    env.app.clock.advance(Duration::from_secs(30 * 86_400));
    let accepted = env
        .app
        .client
        .post(
            &format!("/v1/schedules/{id}/run"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.text);
    env.until("the run gave up", || async {
        env.show(&id).await["last_run"]["status"] == "gave_up"
    })
    .await;
    let run = env.show(&id).await["last_run"].clone();
    assert!(
        run["error"].as_str().unwrap().starts_with("params.to:"),
        "{run}"
    );
    assert!(env.sink.at("/hook").is_empty(), "nothing was delivered");
}

/// The decoded body of the e-mail part whose `Content-ID` is `id` (base64, as lettre writes
/// binary parts).
fn inline_part(data: &str, id: &str) -> Vec<u8> {
    use base64::Engine;
    let lines: Vec<&str> = data.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.eq_ignore_ascii_case(&format!("Content-ID: {id}")))
        .unwrap_or_else(|| panic!("no part with Content-ID {id}: {data}"));
    let headers_end = at
        + lines[at..]
            .iter()
            .position(|l| l.is_empty())
            .expect("headers end");
    assert!(
        lines[..headers_end]
            .iter()
            .rev()
            .take_while(|l| !l.starts_with("--"))
            .any(|l| l.eq_ignore_ascii_case("Content-Type: image/png")),
        "the part is image/png: {data}"
    );
    let body: String = lines[headers_end + 1..]
        .iter()
        .take_while(|l| !l.starts_with("--"))
        .map(|l| l.trim())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64 body")
}
