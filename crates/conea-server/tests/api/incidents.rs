//! The escalation engine through the running application, with a fake clock and local
//! fakes for every channel (HTTP receivers that record the exact payloads, and a tiny SMTP
//! server): each severity's notifications and escalation timing, acknowledge stopping
//! escalation, critical's 15-minute commander step, business hours, dedup, Alertmanager
//! fixtures, a failing channel, signed links, severity changes, the postmortem, and the
//! detectors. SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::sink::{Received, Sink as Fake};
use conea_core::Clock;
use conea_incidents::channels::{self, IncidentMessage, Links, Notice};
use conea_incidents::Severity;
use conea_testkit::fake_smtp::{FakeSmtp, Mail};
use conea_testkit::{backend_tests, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const ROUTING_KEY: &str = "R0UTINGKEY0000000000000000000000";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// ---------------------------------------------------------------- fake SMTP server

// ---------------------------------------------------------------- helpers

struct Env {
    app: TestApp,
    fake: Fake,
    mails: Arc<Mutex<Vec<Mail>>>,
    _dir: tempfile::TempDir,
}

/// The policy the tests use: every channel on the fakes, contacts for every step. `extra`
/// is appended (severity overrides).
fn policy(fake: &Fake, smtp_port: u16, extra: &str) -> String {
    format!(
        r#"
business_hours: {{timezone: Asia/Tokyo, days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}}
contacts:
  on_call_sre: {{primary: "+1-555-0100", secondary: "+1-555-0101", slack: "@oncall-sre"}}
  incident_commander: {{name: "Aiko Tanaka", phone: "+1-555-0199", email: "ic@example.com"}}
  escalation_chain: [{{role: "SRE Lead", contact: "lead@example.com"}}]
  stakeholders: ["cto@example.com"]
channels:
  slack: {{webhook_url: "{base}/slack"}}
  pagerduty: {{routing_key: "{ROUTING_KEY}", events_url: "{base}/pd/v2/enqueue"}}
  email: {{smtp_url: "smtp://127.0.0.1:{smtp_port}?tls=none", from: "conea@example.com", to: ["oncall@example.com"]}}
  jira: {{base_url: "{base}/jira", email: "bot@example.com", api_token: "jira-token", project_key: "OPS", issue_type: "Bug"}}
  webhook: {{url: "{base}/hook", secret: "{WEBHOOK_SECRET}"}}
{extra}
"#,
        base = fake.base
    )
}

impl Env {
    /// The owner's view of `GET /v1/incidents?status=STATUS`.
    async fn incidents(&self, status: &str) -> Vec<Value> {
        self.app
            .client
            .get(
                &format!("/v1/incidents?status={status}"),
                Some(self.app.owner()),
            )
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .clone()
    }
}

#[allow(clippy::disallowed_methods)] // INC_DEBUG: a switch for debugging this test file
async fn env_with(b: Backend, extra: &str, settings: &[(&str, &str)]) -> Option<Env> {
    if std::env::var("INC_DEBUG").is_ok() {
        let _ = tracing_subscriber::fmt().with_env_filter("warn").try_init();
    }
    let fake = Fake::start().await;
    let smtp = FakeSmtp::start(false).await;
    let (smtp_port, mails) = (smtp.port, smtp.mails.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalation.yaml");
    std::fs::write(&path, policy(&fake, smtp_port, extra)).unwrap();
    let path = path.display().to_string();
    let mut all = vec![
        ("CONEA_ESCALATION_CONFIG", path.as_str()),
        ("CONEA_PUBLIC_URL", "https://conea.example"),
        ("CONEA_INCIDENT_DETECTORS", "none"),
    ];
    all.extend_from_slice(settings);
    let app = TestApp::spawn_with(b, &all).await?;
    Some(Env {
        app,
        fake,
        mails,
        _dir: dir,
    })
}

async fn env(b: Backend) -> Option<Env> {
    env_with(b, "", &[]).await
}

impl Env {
    async fn open(&self, body: Value) -> conea_testkit::client::Resp {
        self.app
            .client
            .post("/v1/incidents", Some(self.app.owner()), body)
            .await
    }

    async fn show(&self, id: &str) -> Value {
        let r = self
            .app
            .client
            .get(&format!("/v1/incidents/{id}"), Some(self.app.owner()))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn steps_done(&self, id: &str) -> Vec<String> {
        self.show(id).await["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["step"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits (real time, the worker polls every 50 ms) until `cond` holds.
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

    async fn until_steps(&self, id: &str, steps: &[&str]) {
        self.until(&format!("steps {steps:?}"), || async {
            let done = self.steps_done(id).await;
            steps.iter().all(|s| done.iter().any(|d| d == s))
        })
        .await;
    }

    async fn until_received(&self, path: &str, n: usize) -> Vec<Received> {
        self.until(&format!("{n} requests at {path}"), || async {
            self.fake.at(path).len() >= n
        })
        .await;
        self.fake.at(path)
    }

    /// Lets the worker run whatever is due now, so a "nothing happened" check means it.
    async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    fn advance(&self, by: Duration) {
        self.app.clock.advance(by);
    }
}

/// Replaces every signed action token in `text` with `TOKEN` (tokens carry random nonces).
fn without_tokens(text: &str) -> String {
    let marker = "/v1/incidents/actions/";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        out.push_str("TOKEN");
        rest = &rest[i + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn message_for(incident: &Value, responder: &str, with_ack: bool) -> IncidentMessage {
    let id = incident["id"].as_str().unwrap();
    let token = |_: &str| Some("https://conea.example/v1/incidents/actions/TOKEN".to_owned());
    IncidentMessage {
        incident_id: id.into(),
        title: incident["title"].as_str().unwrap().into(),
        severity: incident["severity"].as_str().unwrap().parse().unwrap(),
        summary: incident["summary"].as_str().unwrap().into(),
        opened_at: conea_core::clock::parse_rfc3339(incident["opened_at"].as_str().unwrap())
            .unwrap(),
        responder: responder.into(),
        source: incident["source"].as_str().unwrap().into(),
        dedup_key: incident["dedup_key"].as_str().unwrap().into(),
        links: Links {
            timeline: format!("https://conea.example/v1/incidents/{id}"),
            acknowledge: if with_ack { token("ack") } else { None },
            resolve: token("resolve"),
        },
    }
}

fn same_ignoring_tokens(got: &Value, want: &Value) {
    assert_eq!(
        without_tokens(&got.to_string()),
        without_tokens(&want.to_string())
    );
}

// ---------------------------------------------------------------- tests

backend_tests!(
    critical_pages_at_once_walks_the_chain_and_summons_the_commander_at_15_minutes,
    acknowledging_stops_escalation_but_not_the_unresolved_steps,
    high_notifies_slack_and_email_then_escalates_after_30_minutes_unless_acknowledged,
    medium_escalates_after_two_hours,
    manual_escalation_runs_the_next_step_now_and_only_once,
    low_waits_for_business_hours_and_files_a_jira_issue,
    a_repeated_report_with_the_same_dedup_key_notifies_nobody_again,
    alertmanager_firing_opens_and_resolved_resolves_by_fingerprint,
    failing_channel_is_retried_and_recorded_and_escalation_continues,
    signed_links_act_once_and_reject_tampered_and_expired_tokens,
    webhook_channel_is_signed_with_standard_webhooks_headers,
    severity_change_replans_the_escalation,
    postmortem_draft_has_the_timeline_and_times,
    health_reports_the_default_policy_without_channels,
    detectors_open_and_resolve_incidents_for_queue_backlog_and_webhook_failures,
    cpu_detector_opens_an_incident_naming_the_busiest_work_after_the_whole_window_and_resolves_it,
    incident_api_requires_incidents_manage_and_validates_input,
);

async fn critical_pages_at_once_walks_the_chain_and_summons_the_commander_at_15_minutes(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let r = env
        .open(json!({"title": "Checkout API down", "severity": "critical", "summary": "5xx everywhere"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let incident = r.body;
    let id = incident["id"].as_str().unwrap().to_owned();
    assert_eq!(incident["status"], "open");
    // At once: PagerDuty and Slack notified, the on-call primary paged (unacknowledged
    // after 0s).
    env.until_steps(
        &id,
        &["notify:pagerduty", "notify:slack", "escalate:primary"],
    )
    .await;
    let pd = env.until_received("/pd/v2/enqueue", 2).await;
    let m = message_for(&incident, "on_call_sre", true);
    // The exact PagerDuty Events v2 trigger.
    assert_eq!(
        pd[0].body,
        channels::pagerduty::trigger(ROUTING_KEY, &m),
        "PagerDuty trigger payload"
    );
    assert_eq!(pd[0].body["payload"]["severity"], "critical");
    let slack = env.until_received("/slack", 2).await;
    let opened = slack
        .iter()
        .find(|r| !r.body.to_string().contains("+1-555-0100"))
        .expect("the opening Slack message");
    same_ignoring_tokens(&opened.body, &channels::slack::message(&m, &Notice::Opened));
    let page = slack
        .iter()
        .find(|r| r.body.to_string().contains("+1-555-0100"))
        .expect("the page of the primary on Slack");
    same_ignoring_tokens(
        &page.body,
        &channels::slack::message(
            &m,
            &Notice::Escalated {
                role: "On-call SRE (primary)".into(),
                contact: "+1-555-0100".into(),
            },
        ),
    );
    env.settle().await;
    let done = env.steps_done(&id).await;
    assert!(!done.contains(&"escalate:secondary".to_owned()), "{done:?}");

    // 5 minutes: the secondary.
    env.advance(5 * MINUTE);
    env.until_steps(&id, &["escalate:secondary"]).await;
    env.settle().await;
    assert!(!env.steps_done(&id).await.contains(&"chain:1".to_owned()));
    // 10 minutes: the chain's first member.
    env.advance(5 * MINUTE);
    env.until_steps(&id, &["chain:1"]).await;
    env.settle().await;
    assert!(!env.steps_done(&id).await.contains(&"commander".to_owned()));
    // 15 minutes unresolved: commander, war room, stakeholders.
    env.advance(5 * MINUTE);
    env.until_steps(&id, &["commander", "war_room", "stakeholders"])
        .await;
    env.until("the war-room message", || async {
        env.fake.at("/slack").iter().any(|r| {
            r.body["text"]
                .as_str()
                .unwrap_or("")
                .starts_with("War room:")
        })
    })
    .await;
    // Stakeholders are told by e-mail (configured).
    env.until("the stakeholder e-mail", || async {
        !env.mails.lock().unwrap().is_empty()
    })
    .await;
    let mail = env.mails.lock().unwrap()[0].clone();
    assert!(mail
        .commands
        .iter()
        .any(|c| c == "RCPT TO:<oncall@example.com>"));
    assert!(mail.data.contains("Checkout API down"), "{}", mail.data);
    // Every step happened exactly once.
    let done = env.steps_done(&id).await;
    let mut sorted = done.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), done.len(), "a step repeated: {done:?}");
}

async fn acknowledging_stops_escalation_but_not_the_unresolved_steps(b: Backend) {
    let Some(env) = env(b).await else { return };
    let r = env
        .open(json!({"title": "Orders API down", "severity": "critical"}))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    env.until_steps(&id, &["escalate:primary"]).await;
    let r = env
        .app
        .client
        .post(
            &format!("/v1/incidents/{id}/acknowledge"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "acknowledged");
    // PagerDuty hears the acknowledgement with the same dedup key.
    env.until("the PagerDuty acknowledge event", || async {
        env.fake
            .at("/pd/v2/enqueue")
            .iter()
            .any(|r| r.body["event_action"] == "acknowledge")
    })
    .await;
    let ack = env
        .fake
        .at("/pd/v2/enqueue")
        .into_iter()
        .find(|r| r.body["event_action"] == "acknowledge")
        .unwrap();
    assert_eq!(
        ack.body,
        channels::pagerduty::acknowledge(ROUTING_KEY, &id),
        "exact acknowledge event"
    );
    for _ in 0..3 {
        env.advance(5 * MINUTE);
        env.settle().await;
    }
    env.until_steps(&id, &["commander"]).await;
    let done = env.steps_done(&id).await;
    assert!(
        !done
            .iter()
            .any(|s| s == "escalate:secondary" || s.starts_with("chain:")),
        "acknowledged: no more paging, got {done:?}"
    );
    // A second acknowledge is a conflict with the error body.
    let r = env
        .app
        .client
        .post(
            &format!("/v1/incidents/{id}/acknowledge"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    r.assert_error(409, "incident_not_open");
    // Resolving cancels everything left and tells PagerDuty.
    let r = env
        .app
        .client
        .post(
            &format!("/v1/incidents/{id}/resolve"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "resolved");
    env.until("the PagerDuty resolve event", || async {
        env.fake
            .at("/pd/v2/enqueue")
            .iter()
            .any(|r| r.body == channels::pagerduty::resolve(ROUTING_KEY, &id))
    })
    .await;
}

async fn high_notifies_slack_and_email_then_escalates_after_30_minutes_unless_acknowledged(
    b: Backend,
) {
    let Some(env) = env(b).await else { return };
    let a = env
        .open(json!({"title": "Search degraded", "severity": "high"}))
        .await
        .body;
    let b_ = env
        .open(json!({"title": "Exports failing", "severity": "high"}))
        .await
        .body;
    let (a_id, b_id) = (
        a["id"].as_str().unwrap().to_owned(),
        b_["id"].as_str().unwrap().to_owned(),
    );
    env.until_steps(&a_id, &["notify:slack", "notify:email"])
        .await;
    env.until_steps(&b_id, &["notify:slack", "notify:email"])
        .await;
    // E-mail over SMTP with the exact subject the builder makes.
    env.until("two e-mails", || async {
        env.mails.lock().unwrap().len() >= 2
    })
    .await;
    let m = message_for(&a, "platform_team", true);
    let content = channels::email::content(&m, &Notice::Opened);
    let mails = env.mails.lock().unwrap().clone();
    assert!(
        mails
            .iter()
            .any(|mail| mail.data.contains(&format!("Subject: {}", content.subject))),
        "subject {} in {mails:?}",
        content.subject
    );
    assert!(mails[0]
        .commands
        .iter()
        .any(|c| c == "MAIL FROM:<conea@example.com>"));
    // Acknowledge one of them.
    let r = env
        .app
        .client
        .post(
            &format!("/v1/incidents/{a_id}/acknowledge"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    env.advance(29 * MINUTE);
    env.settle().await;
    assert!(!env.steps_done(&b_id).await.contains(&"chain:1".to_owned()));
    env.advance(MINUTE);
    env.until_steps(&b_id, &["chain:1"]).await;
    env.settle().await;
    assert!(
        !env.steps_done(&a_id).await.contains(&"chain:1".to_owned()),
        "the acknowledged incident does not escalate"
    );
}

async fn medium_escalates_after_two_hours(b: Backend) {
    let Some(env) = env(b).await else { return };
    let i = env
        .open(json!({"title": "Thumbnails slow", "severity": "medium"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    env.until_steps(&id, &["notify:slack"]).await;
    assert_eq!(
        env.fake.at("/pd/v2/enqueue").len(),
        0,
        "medium does not page"
    );
    env.advance(119 * MINUTE);
    env.settle().await;
    assert!(!env.steps_done(&id).await.contains(&"chain:1".to_owned()));
    env.advance(MINUTE);
    env.until_steps(&id, &["chain:1"]).await;
}

async fn manual_escalation_runs_the_next_step_now_and_only_once(b: Backend) {
    let Some(env) = env(b).await else { return };
    let i = env
        .open(json!({"title": "Refunds stuck", "severity": "medium"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    env.until_steps(&id, &["notify:slack"]).await;
    let esc = |id: String| {
        let c = env.app.client.clone();
        let key = env.app.owner().to_owned();
        async move {
            c.post(
                &format!("/v1/incidents/{id}/escalate"),
                Some(&key),
                json!({}),
            )
            .await
        }
    };
    let r = esc(id.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    env.until_steps(&id, &["chain:1"]).await;
    env.until_received("/slack", 2).await;
    // Its scheduled job (due in 2 h) finds the step done and does nothing.
    env.advance(121 * MINUTE);
    env.settle().await;
    assert_eq!(
        env.steps_done(&id)
            .await
            .iter()
            .filter(|s| *s == "chain:1")
            .count(),
        1
    );
    assert_eq!(
        env.fake.at("/slack").len(),
        2,
        "the chain member paged once"
    );
    // Nothing left to escalate to.
    esc(id).await.assert_error(409, "nothing_to_escalate");
}

async fn low_waits_for_business_hours_and_files_a_jira_issue(b: Backend) {
    let Some(env) = env(b).await else { return };
    // Saturday 2026-12-05 10:00 in Tokyo (01:00Z): the office is closed until Monday 09:00.
    env.app.clock.set_ms(1_796_432_400_000);
    let i = env
        .open(json!({"title": "Typo on the checkout page", "severity": "low"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    env.settle().await;
    assert!(
        env.steps_done(&id).await.is_empty(),
        "nothing at the weekend"
    );
    assert!(env.fake.at("/jira/rest/api/3/issue").is_empty());
    // Monday 2026-12-07 08:59 Tokyo: still closed.
    env.app.clock.set_ms(1_796_601_540_000);
    env.settle().await;
    assert!(env.steps_done(&id).await.is_empty(), "not before 09:00");
    // 09:00 Tokyo (00:00Z): the Jira issue is filed.
    env.app.clock.set_ms(1_796_601_600_000);
    env.until_steps(&id, &["notify:jira"]).await;
    let jira = env.until_received("/jira/rest/api/3/issue", 1).await;
    let m = message_for(&i, "support_team", true);
    assert_eq!(
        jira[0].body,
        channels::jira::create_issue("OPS", "Bug", &m),
        "exact Jira v3 create-issue body"
    );
    assert_eq!(
        jira[0].headers["authorization"].to_str().unwrap(),
        channels::jira::authorization("bot@example.com", "jira-token")
    );
}

async fn a_repeated_report_with_the_same_dedup_key_notifies_nobody_again(b: Backend) {
    let Some(env) = env(b).await else { return };
    let body = json!({"title": "Disk full on db-1", "severity": "medium", "dedup_key": "disk-db-1", "source": "nagios"});
    let first = env.open(body.clone()).await;
    assert_eq!(first.status, 201);
    let id = first.body["id"].as_str().unwrap().to_owned();
    env.until_received("/slack", 1).await;
    let again = env.open(body.clone()).await;
    assert_eq!(again.status, 200, "deduplicated: {}", again.text);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["repeat_count"], 2);
    env.settle().await;
    assert_eq!(env.fake.at("/slack").len(), 1, "nobody notified again");
    let tl = env.show(&id).await["timeline"].clone();
    assert!(
        tl.as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("report #2")),
        "{tl}"
    );
    // Once resolved, the same key opens a new incident.
    env.app
        .client
        .post(
            &format!("/v1/incidents/{id}/resolve"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    let third = env.open(body).await;
    assert_eq!(third.status, 201);
    assert_ne!(third.body["id"], id.as_str());
}

async fn alertmanager_firing_opens_and_resolved_resolves_by_fingerprint(b: Backend) {
    let Some(env) = env(b).await else { return };
    let firing: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conea-incidents/tests/fixtures/alertmanager_v4_firing.json"
    )))
    .unwrap();
    let resolved: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../conea-incidents/tests/fixtures/alertmanager_v4_resolved.json"
    )))
    .unwrap();
    let r = env
        .app
        .client
        .post(
            "/v1/alerts/alertmanager",
            Some(env.app.owner()),
            firing.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["opened"].as_array().unwrap().len(), 2);
    let list = env
        .app
        .client
        .get("/v1/incidents?status=open", Some(env.app.owner()))
        .await
        .body;
    let by_key = |k: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["dedup_key"] == k)
            .cloned()
            .unwrap()
    };
    let probe = by_key("1a30ba71cca2921f");
    assert_eq!(probe["severity"], "critical");
    assert_eq!(probe["source"], "alertmanager");
    assert_eq!(
        probe["title"],
        "BlackBox probe failure: https://shop.example.org"
    );
    assert_eq!(
        by_key("b3c45e9a0f1d2e77")["severity"],
        "medium",
        "warning → medium"
    );
    // Alertmanager repeats the same group: no new incident.
    let again = env
        .app
        .client
        .post("/v1/alerts/alertmanager", Some(env.app.owner()), firing)
        .await;
    assert_eq!(again.body["repeated"].as_array().unwrap().len(), 2);
    assert!(again.body["opened"].as_array().unwrap().is_empty());
    // Filter by severity.
    let crit = env
        .app
        .client
        .get("/v1/incidents?severity=critical", Some(env.app.owner()))
        .await;
    assert_eq!(crit.body["data"].as_array().unwrap().len(), 1);
    // Resolved alerts resolve their incidents.
    let r = env
        .app
        .client
        .post(
            "/v1/alerts/alertmanager",
            Some(env.app.owner()),
            resolved.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let resolved_keys: Vec<String> = resolved["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "resolved")
        .map(|a| a["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert!(!resolved_keys.is_empty());
    assert_eq!(
        resolved_keys,
        ["1a30ba71cca2921f"],
        "the fixture resolves the probe alert"
    );
    assert_eq!(r.body["resolved"], json!([probe["id"]]));
    let after = env.show(probe["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "resolved");
    assert_eq!(after["resolved_by"], "alertmanager");
    // The other alert is still firing: its incident stays open.
    let other = env
        .show(by_key("b3c45e9a0f1d2e77")["id"].as_str().unwrap())
        .await;
    assert_eq!(other["status"], "open");
    // A body that is not Alertmanager's format is a 400 naming the field.
    let bad = env
        .app
        .client
        .post(
            "/v1/alerts/alertmanager",
            Some(env.app.owner()),
            json!({"version": "4"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

async fn failing_channel_is_retried_and_recorded_and_escalation_continues(b: Backend) {
    let Some(env) = env(b).await else { return };
    env.fake.fail("/slack", 2);
    let i = env
        .open(json!({"title": "Payments down", "severity": "critical"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    // PagerDuty is not held up by Slack.
    env.until_received("/pd/v2/enqueue", 2).await;
    env.until("a recorded Slack failure", || async {
        env.show(&id).await["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| {
                e["channel"] == "slack"
                    && e["outcome"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("failed, will retry")
            })
    })
    .await;
    // The escalation goes on while Slack is failing.
    env.advance(5 * MINUTE);
    env.until_steps(&id, &["escalate:secondary"]).await;
    // Retries (the job engine's backoff on the fake clock) get through.
    for _ in 0..6 {
        env.advance(MINUTE);
        env.settle().await;
    }
    env.until("Slack delivered after retries", || async {
        env.show(&id).await["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["channel"] == "slack" && e["outcome"] == "delivered")
    })
    .await;
    assert!(
        env.fake.at("/slack").len() >= 3,
        "two failures then success"
    );
}

fn action_link(body: &Value, text: &str) -> String {
    let s = body.to_string();
    let marker = "https://conea.example/v1/incidents/actions/";
    let mut found = Vec::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        found.push(rest[..end].to_owned());
    }
    // The token's claims say which action it is.
    use base64::Engine;
    found
        .into_iter()
        .find(|t| {
            let claims = t.split('.').nth(1).unwrap_or("");
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .map(|c| String::from_utf8_lossy(&c).contains(text))
                .unwrap_or(false)
        })
        .expect("an action link in the notification")
}

async fn signed_links_act_once_and_reject_tampered_and_expired_tokens(b: Backend) {
    let Some(env) = env(b).await else { return };
    let i = env
        .open(json!({"title": "Login broken", "severity": "medium"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    let slack = env.until_received("/slack", 1).await;
    let ack = action_link(&slack[0].body, "\"acknowledge\"");
    let resolve = action_link(&slack[0].body, "\"resolve\"");
    let c = &env.app.client;
    // GET shows what the link does, without an API key, and changes nothing.
    let r = c.get(&format!("/v1/incidents/actions/{ack}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["action"], "acknowledge");
    assert_eq!(r.body["done"], false);
    assert_eq!(r.body["incident"]["status"], "open");
    // A browser gets a confirmation page whose button POSTs (GET never acts).
    let page = c
        .http()
        .get(c.url(&format!("/v1/incidents/actions/{ack}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // No other site may frame the page that acts on a click (clickjacking).
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(
        page.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\">") && html.contains("Acknowledge this incident"),
        "{html}"
    );
    // Tampered: one character of the signature changed. Not the last one: in unpadded
    // base64url its low bits are padding, so changing it may only make the link malformed.
    let mut chars: Vec<char> = ack.chars().collect();
    let i = chars.len() - 5;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let r = c
        .post(
            &format!("/v1/incidents/actions/{tampered}"),
            None,
            json!({}),
        )
        .await;
    r.assert_error(401, "invalid_signature");
    // Valid: acknowledges.
    let r = c
        .post(&format!("/v1/incidents/actions/{ack}"), None, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["done"], true);
    assert_eq!(r.body["incident"]["status"], "acknowledged");
    assert_eq!(r.body["incident"]["acknowledged_by"], "signed link");
    // Reused: 409.
    let r = c
        .post(&format!("/v1/incidents/actions/{ack}"), None, json!({}))
        .await;
    r.assert_error(409, "link_already_used");
    // Expired: links live 24 h.
    env.advance(Duration::from_secs(24 * 3600 + 1));
    let r = c
        .post(&format!("/v1/incidents/actions/{resolve}"), None, json!({}))
        .await;
    r.assert_error(401, "token_expired");
    assert_eq!(env.show(&id).await["status"], "acknowledged");
}

async fn webhook_channel_is_signed_with_standard_webhooks_headers(b: Backend) {
    let extra = "severities:\n  medium: {notify: [webhook]}\n";
    let Some(env) = env_with(b, extra, &[]).await else {
        return;
    };
    let i = env
        .open(json!({"title": "Queue stuck", "severity": "medium"}))
        .await
        .body;
    let got = env.until_received("/hook", 1).await;
    let r = &got[0];
    let id = r.headers["webhook-id"].to_str().unwrap();
    let ts: i64 = r.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = r.headers["webhook-signature"].to_str().unwrap();
    let secret = channels::webhook::WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
    assert_eq!(sig, channels::webhook::sign(&secret, id, ts, &r.raw));
    let m = message_for(&i, "dev_team", true);
    let want = channels::webhook::event_body(&m, &Notice::Opened, ts * 1000);
    assert_eq!(r.body["type"], "incident.opened");
    assert_eq!(
        without_tokens(&r.body["data"].to_string()),
        without_tokens(&want["data"].to_string())
    );
}

async fn severity_change_replans_the_escalation(b: Backend) {
    let Some(env) = env(b).await else { return };
    let i = env
        .open(json!({"title": "Cart errors", "severity": "medium"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    env.until_steps(&id, &["notify:slack"]).await;
    let r = env
        .app
        .client
        .send(
            Method::PATCH,
            &format!("/v1/incidents/{id}"),
            Some(env.app.owner()),
            Some(&json!({"severity": "critical"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["severity"], "critical");
    // Critical's plan from now: PagerDuty and the primary at once; Slack was already done.
    env.until_steps(&id, &["notify:pagerduty", "escalate:primary"])
        .await;
    env.settle().await;
    assert_eq!(
        env.fake.at("/slack").len(),
        2,
        "opening + primary page, not a second opening"
    );
    // medium's 2-hour chain step is gone; critical's chain comes at 10 minutes.
    env.advance(10 * MINUTE);
    env.until_steps(&id, &["chain:1"]).await;
    let bad = env
        .app
        .client
        .send(
            Method::PATCH,
            &format!("/v1/incidents/{id}"),
            Some(env.app.owner()),
            Some(&json!({"severity": "sev1"})),
        )
        .await;
    bad.assert_error(400, "invalid_parameter");
}

async fn postmortem_draft_has_the_timeline_and_times(b: Backend) {
    let Some(env) = env(b).await else { return };
    let i = env
        .open(json!({"title": "Inventory sync stopped", "severity": "high"}))
        .await
        .body;
    let id = i["id"].as_str().unwrap().to_owned();
    env.until_steps(&id, &["notify:slack"]).await;
    env.advance(4 * MINUTE);
    let c = &env.app.client;
    c.post(
        &format!("/v1/incidents/{id}/notes"),
        Some(env.app.owner()),
        json!({"text": "Restarted the sync worker"}),
    )
    .await;
    c.post(
        &format!("/v1/incidents/{id}/acknowledge"),
        Some(env.app.owner()),
        json!({}),
    )
    .await;
    env.advance(20 * MINUTE);
    c.post(
        &format!("/v1/incidents/{id}/resolve"),
        Some(env.app.owner()),
        json!({}),
    )
    .await;
    let resp = c
        .http()
        .get(c.url(&format!("/v1/incidents/{id}/postmortem")))
        .bearer_auth(env.app.owner())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = resp.text().await.unwrap();
    assert!(
        md.starts_with(&format!("# Postmortem: Inventory sync stopped ({id})")),
        "{md}"
    );
    for needle in [
        "## Summary",
        "## Timeline (UTC)",
        "## Who was notified",
        "## Follow-up actions",
        "Restarted the sync worker",
        "4m",
        "24m",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
}

async fn health_reports_the_default_policy_without_channels(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, &[("CONEA_INCIDENT_DETECTORS", "none")]).await else {
        return;
    };
    let h = app.client.get("/health", None).await.body;
    let e = &h["checks"]["escalation"];
    assert_eq!(e["policy"], "default");
    assert_eq!(e["channels"], json!([]));
    assert!(e["warning"].as_str().unwrap().contains("notify nobody"));
    // Incidents still work: the plan is recorded with its steps skipped.
    let r = app
        .client
        .post(
            "/v1/incidents",
            Some(app.owner()),
            json!({"title": "No channels", "severity": "high"}),
        )
        .await;
    assert_eq!(r.status, 201);
}

/// A CPU reading `at_s` seconds in: `cores_busy` cores' worth of CPU since the previous
/// reading 15 s before, mostly spent by the analytics route and a sync job.
fn cpu_reading(
    at_s: i64,
    total_cpu: f64,
    route_cpu: f64,
    job_cpu: f64,
) -> conea_core::cpu::CpuSample {
    conea_core::cpu::CpuSample {
        at_ms: at_s * 1000,
        process_seconds: total_cpu,
        routes: [
            ("/v1/analytics/{report}".to_owned(), route_cpu),
            ("/livez".to_owned(), 0.1),
        ]
        .into_iter()
        .collect(),
        jobs: [("shopify.sync".to_owned(), job_cpu)].into_iter().collect(),
    }
}

async fn cpu_detector_opens_an_incident_naming_the_busiest_work_after_the_whole_window_and_resolves_it(
    b: Backend,
) {
    let Some(env) = env_with(
        b,
        "",
        &[
            ("CONEA_INCIDENT_DETECTORS", "cpu"),
            ("CONEA_DETECTOR_CPU_PERCENT", "80"),
            ("CONEA_DETECTOR_CPU_FOR", "2m"),
        ],
    )
    .await
    else {
        return;
    };
    let state = env.app.state.clone();
    let meter = state.metrics().cpu().clone();
    let cores = meter.limit().cores;
    let list = |status: &'static str| env.incidents(status);
    let mut ds = conea_server::detectors::DetectorState::default();
    // 90 % of the limit every 15 s, for 105 s: not yet the whole 2 minutes.
    let per_interval = 0.9 * cores * 15.0;
    for i in 0..=7 {
        let f = i as f64;
        meter.record(cpu_reading(
            i * 15,
            f * per_interval,
            f * per_interval * 0.6,
            f * 0.5,
        ));
    }
    conea_server::detectors::run_once(&state, &mut ds).await;
    assert!(
        list("open").await.is_empty(),
        "105 s of high CPU is not 2 minutes"
    );
    meter.record(cpu_reading(
        120,
        8.0 * per_interval,
        8.0 * per_interval * 0.6,
        4.0,
    ));
    conea_server::detectors::run_once(&state, &mut ds).await;
    let open = list("open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["dedup_key"], "conea:detector:cpu");
    assert_eq!(open[0]["severity"], "high");
    assert_eq!(
        open[0]["title"],
        "CPU at 90 % of its limit for 2 min (threshold 80 %)"
    );
    let id = open[0]["id"].as_str().unwrap();
    let incident = env
        .app
        .client
        .get(&format!("/v1/incidents/{id}"), Some(env.app.owner()))
        .await
        .body;
    let summary = incident["summary"].as_str().unwrap();
    assert!(
        summary.contains("Busiest routes: /v1/analytics/{report}")
            && summary.contains("shopify.sync (4.0 s)"),
        "the incident names the work that spent the CPU: {summary}"
    );
    assert_eq!(
        incident["details"]["busiest_routes"][0]["route"],
        "/v1/analytics/{report}"
    );
    // Still high: the same incident.
    meter.record(cpu_reading(
        135,
        9.0 * per_interval,
        9.0 * per_interval * 0.6,
        4.5,
    ));
    conea_server::detectors::run_once(&state, &mut ds).await;
    assert_eq!(list("open").await.len(), 1);
    // A quiet interval: resolved.
    meter.record(cpu_reading(
        150,
        9.0 * per_interval + 0.1,
        9.0 * per_interval * 0.6,
        4.5,
    ));
    conea_server::detectors::run_once(&state, &mut ds).await;
    assert!(list("open").await.is_empty());
    assert_eq!(list("resolved").await.len(), 1);
}

async fn detectors_open_and_resolve_incidents_for_queue_backlog_and_webhook_failures(b: Backend) {
    let Some(env) = env_with(
        b,
        "",
        &[
            ("CONEA_WORKER_CONCURRENCY", "0"),
            ("CONEA_DETECTOR_QUEUE_AGE", "1m"),
            ("CONEA_INCIDENT_DETECTORS", "queue,webhooks"),
        ],
    )
    .await
    else {
        return;
    };
    let state = env.app.state.clone();
    let org = state
        .platform()
        .accounts
        .org_by_slug("default")
        .await
        .unwrap()
        .id;
    let job = state
        .platform()
        .jobs
        .enqueue(conea_jobs::NewJob::new("noop", org, json!({})))
        .await
        .unwrap()
        .job;
    let mut ds = conea_server::detectors::DetectorState::default();
    conea_server::detectors::run_once(&state, &mut ds).await;
    let list = |status: &'static str| env.incidents(status);
    assert!(list("open").await.is_empty(), "a fresh job is no backlog");
    env.advance(2 * MINUTE);
    conea_server::detectors::run_once(&state, &mut ds).await;
    let open = list("open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["dedup_key"], "conea:detector:queue");
    assert!(open[0]["title"]
        .as_str()
        .unwrap()
        .starts_with("Job queue backlog"));
    // Still backlogged: the same incident, not a new one.
    conea_server::detectors::run_once(&state, &mut ds).await;
    assert_eq!(list("open").await.len(), 1);
    // Cleared: resolved.
    state
        .platform()
        .jobs
        .store()
        .cancel(&job.id, env.app.clock.now_ms())
        .await
        .unwrap();
    conea_server::detectors::run_once(&state, &mut ds).await;
    assert!(list("open").await.is_empty());
    assert_eq!(list("resolved").await.len(), 1);
    // Webhook signature failures above the rate.
    let now = env.app.clock.now_ms();
    for _ in 0..11 {
        state.platform().shopify.signature_failures().record(now);
    }
    conea_server::detectors::run_once(&state, &mut ds).await;
    let open = list("open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["dedup_key"], "conea:detector:webhooks");
    assert_eq!(open[0]["severity"], "medium");
    env.advance(6 * MINUTE);
    conea_server::detectors::run_once(&state, &mut ds).await;
    // (No worker runs here, so the webhook incident's own step jobs now form a backlog.)
    assert!(
        !list("open")
            .await
            .iter()
            .any(|i| i["dedup_key"] == "conea:detector:webhooks"),
        "the failures aged out of the window"
    );
    assert!(list("resolved")
        .await
        .iter()
        .any(|i| i["dedup_key"] == "conea:detector:webhooks"));
}

async fn incident_api_requires_incidents_manage_and_validates_input(b: Backend) {
    let Some(env) = env(b).await else { return };
    let c = &env.app.client;
    let r = c
        .post(
            "/v1/api-keys",
            Some(env.app.owner()),
            json!({"name": "reader", "permissions": ["jobs:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let reader = r.body["secret"].as_str().unwrap().to_owned();
    let r = c
        .post(
            "/v1/incidents",
            Some(&reader),
            json!({"title": "x", "severity": "high"}),
        )
        .await;
    r.assert_error(403, "insufficient_permissions");
    let r = c
        .post("/v1/alerts/alertmanager", Some(&reader), json!({}))
        .await;
    r.assert_error(403, "insufficient_permissions");
    let r = c
        .post(
            "/v1/incidents",
            None,
            json!({"title": "x", "severity": "high"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = env.open(json!({"title": "  ", "severity": "high"})).await;
    r.assert_error(400, "invalid_parameter");
    let r = env.open(json!({"title": "x", "severity": "sev1"})).await;
    r.assert_error(400, "invalid_parameter");
    // Not an incident id at all, and a well-formed id of no incident: the same 404.
    let r = c.get("/v1/incidents/inc_nope", Some(env.app.owner())).await;
    r.assert_error(404, "not_found");
    let unknown = conea_core::ids::IncidentId::generate();
    let r = c
        .post(
            &format!("/v1/incidents/{unknown}/acknowledge"),
            Some(env.app.owner()),
            json!({}),
        )
        .await;
    r.assert_error(404, "not_found");
    let r = c
        .get("/v1/incidents?status=closed", Some(env.app.owner()))
        .await;
    r.assert_error(400, "invalid_parameter");
    let _ = Severity::ALL;
}

/// PostgreSQL only (a SQLite file cannot become unreachable): the database behind a proxy
/// that is cut for more than a minute (fake clock) yields a critical incident once it
/// answers again, resolved at once since the outage is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_unreachable_for_a_minute_is_recorded_as_an_incident() {
    let Some(db) = conea_testkit::TestDb::create(Backend::Postgres).await else {
        return;
    };
    let url = db.url.clone();
    let rest = url.strip_prefix("postgres://").unwrap();
    let (userinfo, after) = rest.split_once('@').unwrap();
    let (hostport, tail) = after.split_once('/').unwrap();
    let target: std::net::SocketAddr = hostport.parse().unwrap();
    let proxy = conea_testkit::proxy::ToggleProxy::start(target).await;
    let proxied = format!("postgres://{userinfo}@{}/{tail}", proxy.addr);
    let app = TestApp::start(
        db.clone(),
        &[
            ("DATABASE_URL", proxied.as_str()),
            ("CONEA_INCIDENT_DETECTORS", "database"),
            ("CONEA_DB_CONNECT_TIMEOUT", "1s"),
        ],
        conea_core::clock::FakeClock::starting_now(),
    )
    .await;
    let state = app.state.clone();
    let mut ds = conea_server::detectors::DetectorState::default();
    conea_server::detectors::run_once(&state, &mut ds).await;
    proxy.down();
    conea_server::detectors::run_once(&state, &mut ds).await;
    app.clock.advance(30 * Duration::from_secs(1));
    conea_server::detectors::run_once(&state, &mut ds).await;
    app.clock.advance(31 * Duration::from_secs(1));
    conea_server::detectors::run_once(&state, &mut ds).await;
    proxy.up();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let found = loop {
        conea_server::detectors::run_once(&state, &mut ds).await;
        let r = app
            .client
            .get("/v1/incidents?status=resolved", Some(app.owner()))
            .await;
        if r.status == 200 {
            if let Some(i) = r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["dedup_key"] == "conea:detector:database")
            {
                break i.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no database incident: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(found["severity"], "critical");
    assert!(
        found["title"]
            .as_str()
            .unwrap()
            .starts_with("Database was unreachable for 6"),
        "{found}"
    );
}
