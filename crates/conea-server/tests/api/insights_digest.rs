//! The `digest` report of schedules through the running application: a schedule with report
//! `digest` delivers, by signed webhook to a local receiver, the week's key figures against
//! the week before, the anomalies (a day far above its weekday's band, a product whose
//! sales stopped) and a narrative a scripted fake OpenAI model writes from those figures in
//! the schedule's language, grounding-checked (an invented number is corrected once);
//! without a working provider the digest is still delivered with a note. SQLite and
//! PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::sink::Sink;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use conea_testkit::{backend_tests, Backend, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// 2026-06-03T01:00:00Z, a Wednesday: the week digested is 2026-05-27 to 2026-06-02 (UTC).
const WED: i64 = 1_780_448_400_000;

fn order(id: u64, day: &str, product: u64, title: &str) -> Value {
    json!({
        "id": id, "name": format!("#{id}"), "email": format!("c{id}@example.com"),
        "created_at": format!("{day}T10:00:00Z"), "updated_at": format!("{day}T10:00:00Z"),
        "currency": "USD", "total_price": "10.00", "subtotal_price": "10.00",
        "financial_status": "paid",
        "line_items": [{"id": id * 10, "product_id": product, "variant_id": product * 10,
                        "title": title, "quantity": 1, "price": "10.00"}],
        "customer": {"id": 1 + id % 5}
    })
}

/// Two orders a day from 2026-04-01 to 2026-06-02 — a Mug and a Teapot until 2026-05-20,
/// two Mugs after (the Teapot stopped selling) — and nine more Mugs on 2026-06-01 (a Monday
/// far above the Mondays before).
fn orders() -> Vec<Value> {
    let mut out = Vec::new();
    let mut id = 1000u64;
    let start = jiff::civil::date(2026, 4, 1);
    for i in 0..63 {
        let day = start.checked_add(jiff::Span::new().days(i)).unwrap();
        let text = day.to_string();
        let teapot = day <= jiff::civil::date(2026, 5, 20);
        let mugs = match (text.as_str(), teapot) {
            ("2026-06-01", _) => 11,
            (_, true) => 1,
            (_, false) => 2,
        };
        for _ in 0..mugs {
            id += 1;
            out.push(order(id, &text, 502, "Mug"));
        }
        if teapot {
            id += 1;
            out.push(order(id, &text, 503, "Teapot"));
        }
    }
    out
}

/// The requests the fake model received.
#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<Value>>>,
}

/// The narrative the fake writes from the digest's figures (the user message's JSON): the
/// first time with an invented number, corrected when asked.
fn narrative(facts: &Value, system: &str, correcting: bool) -> String {
    let c = &facts["currencies"][0];
    let (net, prev, orders) = (
        c["current"]["net_sales"].as_str().unwrap(),
        c["previous"]["net_sales"].as_str().unwrap(),
        c["current"]["orders"].as_i64().unwrap(),
    );
    let day = facts["anomalies"]["days"][0]["date"]
        .as_str()
        .unwrap_or("?");
    let stopped = facts["anomalies"]["stopped_products"][0]["title"]
        .as_str()
        .unwrap_or("?");
    let text = if system.contains("Japanese") {
        format!("今週の純売上は{net} USD（前週 {prev} USD）、注文は{orders}件でした。{day}の注文が通常より多く、{stopped}の販売が止まっています。")
    } else {
        format!("Net sales were {net} USD against {prev} USD, from {orders} orders. {day} was busier than usual and {stopped} stopped selling.")
    };
    if correcting {
        text
    } else {
        format!("{text} 98,765")
    }
}

async fn openai(State(fake): State<Fake>, axum::Json(body): axum::Json<Value>) -> Response {
    fake.requests.lock().unwrap().push(body.clone());
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system = messages[0]["content"].as_str().unwrap_or("").to_owned();
    let facts: Value = serde_json::from_str(messages[1]["content"].as_str().unwrap()).unwrap();
    let correcting = messages.len() > 2;
    let text = narrative(&facts, &system, correcting);
    axum::Json(json!({
        "id": "chatcmpl-digest", "object": "chat.completion", "created": 1, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }))
    .into_response()
}

async fn fake_openai() -> (String, Fake) {
    let fake = Fake::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route("/v1/chat/completions", post(openai))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/v1"), fake)
}

/// Creates a digest schedule delivering to the sink's `/hook`, runs it now and returns the
/// delivered webhook body.
async fn run_digest(app: &TestApp, sink: &Sink, language: &str) -> Value {
    let created = app
        .client
        .post(
            "/v1/schedules",
            Some(app.owner()),
            json!({"report": "digest", "cron": "0 9 * * MON", "timezone": "UTC",
                   "language": language, "params": {"granularity": "week"},
                   "deliver": [{"channel": "webhook", "target": format!("{}/hook", sink.base)}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["report"], "digest");
    assert_eq!(created.body["language"], language);
    let id = created.body["id"].as_str().unwrap();
    let accepted = app
        .client
        .post(
            &format!("/v1/schedules/{id}/run"),
            Some(app.owner()),
            json!({}),
        )
        .await;
    let result = app.job_result(&accepted).await;
    assert_eq!(result["delivered"], 1, "{result}");
    let hook = sink.at("/hook");
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0].body["data"]["report"], "digest");
    hook[0].body["data"]["result"].clone()
}

/// The figures and anomalies every digest of the data above carries.
fn assert_figures(d: &Value) {
    assert_eq!(d["report"], "digest");
    assert_eq!(d["period"], "week");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("2026-05-27"), Some("2026-06-02"))
    );
    assert_eq!(d["previous_from"], "2026-05-20");
    let usd = &d["currencies"][0];
    assert_eq!(usd["currency"], "USD");
    // Two orders a day, nine more on 2026-06-01; the week before two a day.
    assert_eq!(usd["current"]["orders"], 23, "{usd}");
    assert_eq!(usd["current"]["net_sales"], "230.00");
    assert_eq!(usd["previous"]["orders"], 14, "{usd}");
    assert_eq!(usd["change"]["net_sales"]["percent"], 64.3);
    let days = d["anomalies"]["days"].as_array().unwrap();
    assert!(
        days.iter().any(|a| a["date"] == "2026-06-01"
            && a["metric"] == "orders"
            && a["direction"] == "above"
            && a["value"] == 11.0),
        "{days:?}"
    );
    assert!(days.iter().all(|a| a["date"] == "2026-06-01"), "{days:?}");
    let stopped = d["anomalies"]["stopped_products"].as_array().unwrap();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(
        (
            stopped[0]["product_id"].as_str(),
            stopped[0]["title"].as_str()
        ),
        (Some("503"), Some("Teapot"))
    );
}

backend_tests!(
    a_digest_schedule_delivers_figures_anomalies_and_a_grounded_narrative_in_its_language,
    without_a_working_provider_the_digest_is_delivered_with_figures_and_a_note,
);

async fn a_digest_schedule_delivers_figures_anomalies_and_a_grounded_narrative_in_its_language(
    b: Backend,
) {
    let (url, fake) = fake_openai().await;
    let Some(app) = TestApp::spawn_with(
        b,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &url),
            ("CONEA_INSIGHTS_MODEL", "openai/gpt-test"),
            ("CONEA_AI_MAX_RETRIES", "0"),
            ("CONEA_INCIDENT_DETECTORS", "none"),
            ("RATE_LIMIT_PER_MINUTE", "100000"),
        ],
    )
    .await
    else {
        return;
    };
    app.clock.set_ms(WED);
    app.import_ndjson("orders", &orders()).await;
    let sink = Sink::start().await;

    let d = run_digest(&app, &sink, "ja").await;
    assert_figures(&d);
    let text = d["narrative"].as_str().unwrap();
    assert!(
        text.starts_with("今週の純売上は230.00 USD（前週 140.00 USD）"),
        "{text}"
    );
    assert!(
        text.contains("2026-06-01") && text.contains("Teapot"),
        "{text}"
    );
    // The invented number was flagged and the model asked once to correct it.
    assert!(!text.contains("98,765"), "{text}");
    assert_eq!(d["grounding"]["ungrounded"], json!([]), "{d}");
    assert_eq!(d["narrative_note"], Value::Null);
    assert_eq!(
        (d["provider"].as_str(), d["language"].as_str()),
        (Some("openai"), Some("ja"))
    );
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "a first narrative and one correction");
    let system = requests[0]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("Japanese") && system.contains("weekly"),
        "{system}"
    );
    assert!(
        requests[0]["tools"].as_array().is_none_or(|t| t.is_empty()),
        "the narrative gets no tools: {}",
        requests[0]
    );
    assert!(requests[1]["messages"][3]["content"]
        .as_str()
        .unwrap()
        .contains("98,765"));
}

async fn without_a_working_provider_the_digest_is_delivered_with_figures_and_a_note(b: Backend) {
    // The insights model routes to a provider nobody configured.
    let Some(app) = TestApp::spawn_with(
        b,
        &[
            ("CONEA_INSIGHTS_MODEL", "openai/gpt-test"),
            ("CONEA_INCIDENT_DETECTORS", "none"),
        ],
    )
    .await
    else {
        return;
    };
    app.clock.set_ms(WED);
    app.import_ndjson("orders", &orders()).await;
    let sink = Sink::start().await;
    let d = run_digest(&app, &sink, "en").await;
    assert_figures(&d);
    assert_eq!(d["narrative"], Value::Null);
    assert_eq!(d["grounding"], Value::Null);
    let note = d["narrative_note"].as_str().unwrap();
    assert!(note.starts_with("The narrative is unavailable ("), "{note}");
    let text = sink.at("/hook")[0].body["data"]["result"]["narrative_note"].clone();
    assert_eq!(text, note);
}
