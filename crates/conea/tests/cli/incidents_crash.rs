//! A restart in the middle of an escalation, with real processes: `conea serve` with a
//! policy whose critical escalation pages the secondary 4 s after the primary; the server is
//! SIGKILLed right after the primary's page, restarted, and the secondary's page still
//! arrives on the (fake) Slack webhook exactly once, and no earlier step is repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Env;

type Log = Arc<Mutex<Vec<Value>>>;

async fn record(State(log): State<Log>, body: axum::body::Bytes) -> &'static str {
    log.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    "ok"
}

/// A fake Slack webhook on its own runtime (the test thread blocks and sleeps).
fn fake_slack() -> (tokio::runtime::Runtime, String, Log) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let log: Log = Arc::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/slack", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/slack", post(record))
        .with_state(log.clone());
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (rt, url, log)
}

fn count(log: &Log, needle: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|b| b.to_string().contains(needle))
        .count()
}

fn wait_for(log: &Log, needle: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while count(log, needle) < n {
        assert!(
            Instant::now() < deadline,
            "never saw {n}× {needle:?}: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn restart_mid_escalation(mut env: Env) {
    let (_rt, slack_url, log) = fake_slack();
    let policy = format!(
        r#"
severities:
  critical: {{notify: [slack], escalate_if_unacknowledged_after: 0s, escalation_interval: 4s, escalate_if_unresolved_after: 1h}}
contacts:
  on_call_sre: {{primary: "+1-555-0100", secondary: "+1-555-0101"}}
channels:
  slack: {{webhook_url: "{slack_url}"}}
"#
    );
    let path = env.data_dir().join("escalation.yaml");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(&path, policy).unwrap();
    env.set("CONEA_ESCALATION_CONFIG", &path.display().to_string())
        .set("CONEA_INCIDENT_DETECTORS", "none")
        .set("CONEA_JOB_LEASE", "3s")
        .set("CONEA_JOB_POLL", "100ms")
        .set("CONEA_LOG", "warn");
    env.run(&["incidents", "check-config"]).success();
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    let rt = support::runtime();
    let opened: Value = rt.block_on(async {
        reqwest::Client::new()
            .post(server.url("/v1/incidents"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"title": "Storefront down", "severity": "critical"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let id = opened["id"].as_str().expect("incident id").to_owned();
    // The primary is paged at once; kill the server once both deliveries so far (opening
    // and primary page) are committed as done. (A delivery still in flight when the process
    // dies is sent again after the restart: deliveries are at least once, steps exactly once.)
    wait_for(&log, "+1-555-0100", 1, Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, jobs) = server.get("/v1/jobs?kind=incidents.notify&status=completed", &key);
        if jobs["data"].as_array().map_or(0, Vec::len) >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never completed: {jobs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server.kill9();
    assert_eq!(
        count(&log, "+1-555-0101"),
        0,
        "the secondary is not due yet"
    );
    let server = env.serve();
    // The secondary's step is still there after the restart and fires once.
    wait_for(&log, "+1-555-0101", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        count(&log, "+1-555-0101"),
        1,
        "the secondary paged exactly once"
    );
    assert_eq!(count(&log, "+1-555-0100"), 1, "the primary not paged again");
    let (status, shown) = server.get(&format!("/v1/incidents/{id}"), &key);
    assert_eq!(status, 200, "{shown}");
    let steps: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    for s in ["notify:slack", "escalate:primary", "escalate:secondary"] {
        assert_eq!(
            steps.iter().filter(|x| **x == s).count(),
            1,
            "{s} once in {steps:?}"
        );
    }
    // The CLI sees the same incident.
    let out = env.run(&["incidents", "show", &id]).success();
    assert!(out.stdout_json()["timeline"].is_array());
    server.kill9();
}

#[test]
fn restart_mid_escalation_fires_the_next_step_once_on_sqlite() {
    restart_mid_escalation(Env::sqlite());
}

#[test]
fn restart_mid_escalation_fires_the_next_step_once_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    restart_mid_escalation(env);
}

#[test]
fn check_config_names_the_bad_key_and_exits_1() {
    let env = Env::sqlite();
    let path = env.data_dir().join("bad.yaml");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(
        &path,
        "severities:\n  critical: {escalate_if_unacknowledged_after: soon}\n",
    )
    .unwrap();
    let out = env.run(&["incidents", "check-config", &path.display().to_string()]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("severities.critical.escalate_if_unacknowledged_after"),
        "{}",
        out.stderr
    );
}

#[test]
fn serve_refuses_to_start_with_an_invalid_policy_naming_the_key() {
    let mut env = Env::sqlite();
    let path = env.data_dir().join("bad.yaml");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(&path, "channels:\n  slack: {webhook_url: \"ftp://x\"}\n").unwrap();
    env.set("CONEA_ESCALATION_CONFIG", &path.display().to_string());
    let out = env.run(&["serve"]);
    assert_ne!(out.code(), Some(0));
    assert!(
        out.stderr.contains("channels.slack.webhook_url"),
        "{}",
        out.stderr
    );
}

#[test]
fn cli_opens_lists_acknowledges_resolves_and_drafts_the_postmortem() {
    let mut env = Env::sqlite();
    env.set("CONEA_LOG", "warn");
    env.create_default_org();
    let out = env
        .run(&[
            "incidents",
            "open",
            "Nightly export failed",
            "--severity",
            "high",
            "--dedup-key",
            "export",
        ])
        .success();
    let line = out.stdout_line();
    let id = line
        .strip_prefix("opened ")
        .expect("opened inc_…")
        .to_owned();
    let again = env
        .run(&[
            "incidents",
            "open",
            "Nightly export failed",
            "--severity",
            "high",
            "--dedup-key",
            "export",
        ])
        .success();
    assert_eq!(again.stdout_line(), format!("deduplicated into {id}"));
    let list = env
        .run(&["incidents", "list", "--json"])
        .success()
        .stdout_json();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["repeat_count"], 2);
    let ack = env.run(&["incidents", "ack", &id]).success();
    assert_eq!(ack.stdout_line(), format!("{id}: acknowledged"));
    let resolve = env.run(&["incidents", "resolve", &id]).success();
    assert_eq!(resolve.stdout_line(), format!("{id}: resolved"));
    let pm = env.run(&["incidents", "postmortem", &id]).success();
    assert!(
        pm.stdout.starts_with("# Postmortem: Nightly export failed"),
        "{}",
        pm.stdout
    );
    assert!(pm.stdout.contains("user:cli"), "{}", pm.stdout);
    let err = env.run(&["incidents", "resolve", &id]);
    assert!(err.one_line_error().contains("already resolved"), "{err}");
}
