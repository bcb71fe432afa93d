//! A question asked as a job (`"async": true`), with real processes: `conea serve` answers
//! 202 and its worker starts the `insights.ask` job; the job calls a tool, and while the
//! (fake, OpenAI-format) provider holds its answer to the next turn the server is SIGKILLed.
//! After a restart the job is rescued and asked again, its answer is readable at the check
//! URL, and it completed exactly once: one job, one row in the completion ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Backend, Env};

/// The fake provider's state: while `hold` is set, a turn that carries a tool result waits
/// (the model "thinking" after its tool call) until it is cleared.
#[derive(Clone, Default)]
struct Fake {
    hold: Arc<AtomicBool>,
    /// Turns waiting now.
    held: Arc<AtomicUsize>,
    /// Every turn received.
    calls: Arc<AtomicUsize>,
    /// Turns answered with the final text.
    answers: Arc<AtomicUsize>,
}

/// OpenAI Chat Completions: without a tool result in the transcript, calls
/// `sales_over_time`; with one, answers with its gross sales.
async fn chat(State(fake): State<Fake>, Json(body): Json<Value>) -> Json<Value> {
    let n = fake.calls.fetch_add(1, Ordering::SeqCst);
    let result = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned());
    let message = match result {
        None => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": format!("call_{n}"), "type": "function",
            "function": {"name": "sales_over_time", "arguments": "{}"}}]}),
        Some(result) => {
            if fake.hold.load(Ordering::SeqCst) {
                fake.held.fetch_add(1, Ordering::SeqCst);
                while fake.hold.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                fake.held.fetch_sub(1, Ordering::SeqCst);
            }
            let r: Value = serde_json::from_str(&result).unwrap_or_default();
            let gross = r["currencies"][0]["totals"]["gross_sales"]
                .as_str()
                .unwrap_or("none")
                .to_owned();
            fake.answers.fetch_add(1, Ordering::SeqCst);
            json!({"role": "assistant", "content": format!("March's gross sales were USD {gross} (sales_over_time).")})
        }
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    Json(json!({
        "id": format!("chatcmpl-{n}"), "object": "chat.completion", "created": 1,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
    }))
}

/// The fake provider on its own runtime (the test thread blocks and sleeps); its base URL.
fn fake_openai() -> (tokio::runtime::Runtime, String, Fake) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = Fake::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(fake.clone());
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (rt, url, fake)
}

fn post_json(url: &str, key: &str, content_type: &str, body: String) -> (u16, Value) {
    support::runtime().block_on(async move {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    })
}

/// Polls `path` until its job has `status` (or fails after `within`).
fn wait_for_status(
    server: &support::Server,
    path: &str,
    key: &str,
    status: &str,
    within: Duration,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (code, job) = server.get(path, key);
        assert_eq!(code, 200, "{job}");
        if job["status"] == status {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "the job never became {status}: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `(insights.ask jobs, ledger rows of the job, the job's attempt)`, read from the database.
async fn ledger(url: &str, backend: Backend, job_id: &str) -> (i64, i64, i64) {
    macro_rules! run {
        ($pool:expr) => {{
            let pool = $pool;
            let jobs: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'insights.ask'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let attempt: i64 =
                sqlx::query_scalar("SELECT CAST(attempt AS BIGINT) FROM jobs WHERE id = $1")
                    .bind(job_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            (jobs, runs, attempt)
        }};
    }
    match backend {
        Backend::Postgres => run!(sqlx::PgPool::connect(url).await.unwrap()),
        Backend::Sqlite => run!(sqlx::SqlitePool::connect(url).await.unwrap()),
    }
}

fn ask_job_survives_sigkill_mid_question(mut env: Env) {
    let (_rt, provider, fake) = fake_openai();
    env.set("OPENAI_API_KEY", "sk-test")
        .set("OPENAI_BASE_URL", &provider)
        .set("CONEA_INSIGHTS_MODEL", "openai/gpt-test")
        .set("CONEA_AI_MAX_RETRIES", "0")
        .set("CONEA_JOB_LEASE", "3s")
        .set("CONEA_JOB_POLL", "100ms")
        .set("CONEA_LOG", "warn");
    let db = match env.backend {
        Backend::Postgres => env.var("DATABASE_URL").unwrap().to_owned(),
        Backend::Sqlite => format!("sqlite://{}/conea.db", env.data_dir().display()),
    };
    let server = env.serve();
    let key = support::api_keys_in(&server.startup_output)[0].clone();
    // One March order of 2 × 12.50.
    let order = json!({"id": 1, "name": "#1", "created_at": "2026-03-05T10:00:00Z",
        "updated_at": "2026-03-05T10:00:00Z", "currency": "USD", "total_price": "25.00",
        "subtotal_price": "25.00", "financial_status": "paid",
        "line_items": [{"id": 10, "product_id": 5, "variant_id": 50, "title": "Mug",
                        "quantity": 2, "price": "12.50"}]});
    let (status, import) = post_json(
        &server.url("/v1/data/imports?kind=orders"),
        &key,
        "application/x-ndjson",
        format!("{order}\n"),
    );
    assert_eq!(status, 202, "{import}");
    wait_for_status(
        &server,
        import["check_url"].as_str().unwrap(),
        &key,
        "completed",
        Duration::from_secs(60),
    );

    fake.hold.store(true, Ordering::SeqCst);
    let question = json!({"question": "How did March go?", "from": "2026-03-01",
        "to": "2026-03-31", "async": true});
    let (status, accepted) = post_json(
        &server.url("/v1/insights/ask"),
        &key,
        "application/json",
        question.to_string(),
    );
    assert_eq!(status, 202, "{accepted}");
    let check = accepted["check_url"].as_str().unwrap().to_owned();
    let job_id = accepted["job_id"].as_str().unwrap().to_owned();
    // The job ran its tool call and waits on the provider's next turn: kill it there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.held.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the provider never saw the turn after the tool call"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, running) = server.get(&check, &key);
    assert_eq!(running["status"], "running", "{running}");
    server.kill9();
    assert_eq!(
        fake.answers.load(Ordering::SeqCst),
        0,
        "no answer before the kill"
    );
    fake.hold.store(false, Ordering::SeqCst);

    // A new process rescues the job once its lease (3 s) has run out and asks again.
    let server = env.serve();
    let done = wait_for_status(&server, &check, &key, "completed", Duration::from_secs(90));
    let answer = &done["result"];
    assert!(
        answer["answer"]
            .as_str()
            .is_some_and(|a| a.contains("25.00")),
        "{done}"
    );
    assert_eq!(answer["figures"][0]["tool"], "sales_over_time", "{done}");
    assert_eq!(
        answer["figures"][0]["result"]["currencies"][0]["totals"]["gross_sales"], "25.00",
        "{done}"
    );
    assert_eq!(answer["grounding"]["ungrounded"], json!([]), "{done}");
    assert_eq!(
        done["attempts"], 2,
        "the killed attempt, then the rescue: {done}"
    );
    // Exactly one job and one completion: no answer stored twice.
    let (jobs, runs, attempt) = support::runtime().block_on(ledger(&db, env.backend, &job_id));
    assert_eq!((jobs, runs, attempt), (1, 1, 2), "{done}");
    let (_, listed) = server.get("/v1/jobs?kind=insights.ask", &key);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    // The rescue asked the whole question again: its tool call, then its answer turn.
    assert!(fake.calls.load(Ordering::SeqCst) >= 4);
    server.kill9();
}

#[test]
fn an_ask_job_killed_mid_question_is_rescued_and_answered_once_on_sqlite() {
    ask_job_survives_sigkill_mid_question(Env::sqlite());
}

#[test]
fn an_ask_job_killed_mid_question_is_rescued_and_answered_once_on_postgres() {
    let Some(env) = Env::postgres() else { return };
    ask_job_survives_sigkill_mid_question(env);
}
