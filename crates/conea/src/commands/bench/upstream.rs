//! `conea bench upstream`: a mock OpenAI Chat Completions server with a fixed latency, so
//! the gateway's overhead can be measured as (through Conea) − (direct). It also lists its
//! model (`GET /v1/models`), so model discovery runs as it does against OpenAI.
//!
//! With `--tools a,b,c` it is a scripted model for the insights benchmark
//! (`bench/insights.sh`): offered tools, it calls `a`, then `b`, then `c` (one call per turn,
//! by the number of tool results in the transcript), then answers from the first result.

use anyhow::{anyhow, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use serde_json::{json, Value};
use std::collections::BinaryHeap;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The mock's latency, kept by one thread. Tokio's timers tick in whole milliseconds: a
/// 20 ms sleep ends anywhere in 20–21 ms (and later when the runtime is busy), which made
/// the direct p99 jump by a millisecond between runs. A thread waiting on a condition
/// variable wakes within the kernel's timer slack (~50 µs). One thread for every waiting
/// request (a blocking-pool sleep each) cost the mock two thread switches per request and
/// 0.6 of this machine's two cores at 4,000 requests/s, taken from the server it measures.
/// With a fixed latency a new deadline is never the earliest, so adding one wakes nothing;
/// the thread wakes at each deadline and answers every request that is due.
struct Timer {
    due: Mutex<BinaryHeap<Due>>,
    changed: Condvar,
}

struct Due(Instant, tokio::sync::oneshot::Sender<()>);

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Earliest first (`BinaryHeap` is a max-heap).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.cmp(&self.0)
    }
}

impl Timer {
    fn start() -> Result<Arc<Timer>> {
        let timer = Arc::new(Timer {
            due: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
        });
        let t = timer.clone();
        std::thread::Builder::new()
            .name("mock-latency".into())
            .spawn(move || t.run())?;
        Ok(timer)
    }

    async fn wait(&self, latency: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let deadline = Instant::now() + latency;
        let earliest = {
            let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
            let earliest = due.peek().is_none_or(|d| deadline < d.0);
            due.push(Due(deadline, tx));
            earliest
        };
        if earliest {
            self.changed.notify_one();
        }
        let _ = rx.await;
    }

    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = Instant::now();
            while due.peek().is_some_and(|d| d.0 <= now) {
                if let Some(Due(_, tx)) = due.pop() {
                    let _ = tx.send(());
                }
            }
            due = match due.peek().map(|d| d.0 - now) {
                Some(wait) => match self.changed.wait_timeout(due, wait) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                },
                None => self.changed.wait(due).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

#[derive(Clone)]
struct Mock {
    latency: Duration,
    timer: Arc<Timer>,
    /// The tools to call, in order, when the request offers tools.
    tools: Vec<String>,
}

/// The scripted model's next message when the request offers tools and `--tools` names
/// some: the next tool's call, or, once every one has a result, an answer quoting the
/// first result's order count and gross sales (so the answer's grounding has work to do).
fn scripted(tools: &[String], body: &Value) -> Option<Value> {
    if tools.is_empty() || body["tools"].as_array().is_none_or(Vec::is_empty) {
        return None;
    }
    let results: Vec<&str> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default())
        .collect();
    if let Some(name) = tools.get(results.len()) {
        return Some(
            json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": format!("call_{}", results.len()), "type": "function",
            "function": {"name": name, "arguments": "{}"}}]}),
        );
    }
    let first: Value = results
        .first()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let c = &first["currencies"][0];
    let text = match (
        c["totals"]["orders"].as_i64(),
        c["totals"]["gross_sales"].as_str(),
    ) {
        (Some(orders), Some(gross)) => format!(
            "The period had {orders} orders and {} {gross} of gross sales ({}).",
            c["currency"].as_str().unwrap_or_default(),
            tools.join(", ")
        ),
        _ => "Here is what the tools returned.".to_owned(),
    };
    Some(json!({"role": "assistant", "content": text}))
}

async fn chat(State(mock): State<Mock>, axum::Json(body): axum::Json<Value>) -> Response {
    mock.timer.wait(mock.latency).await;
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    if body["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let mut text = chunk(
            json!({"role": "assistant", "content": "Hello"}),
            Value::Null,
        );
        text += &chunk(json!({"content": " from the mock"}), Value::Null);
        text += &chunk(json!({}), json!("stop"));
        text += &format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}})
        );
        text += "data: [DONE]\n\n";
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from(text),
        )
            .into_response();
    }
    if let Some(message) = scripted(&mock.tools, &body) {
        let finish = if message["tool_calls"].is_array() {
            "tool_calls"
        } else {
            "stop"
        };
        return axum::Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}
        }))
        .into_response();
    }
    axum::Json(json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the mock"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}
    }))
    .into_response()
}

/// OpenAI's `GET /v1/models`, so Conea's discovery lists the mock's model (a bare
/// `gpt-4o-mini` then routes by the list, as against OpenAI itself).
async fn models() -> axum::Json<Value> {
    axum::Json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}
    ]}))
}

pub async fn run(bind: &str, latency: &str, tools: Option<&str>) -> Result<ExitCode> {
    let latency =
        conea_core::config::duration::parse(latency).map_err(|e| anyhow!("--latency: {e}"))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", axum::routing::get(models))
        .with_state(Mock {
            latency,
            timer: Timer::start()?,
            tools: tools
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        });
    println!(
        "mock OpenAI upstream listening on http://{addr} (latency {} ms)",
        latency.as_millis()
    );
    // Like Conea's server: small streamed writes go out at once.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(conea_server::app::shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timer_answers_each_request_after_its_latency_earliest_first() {
        let timer = Timer::start().unwrap();
        let started = Instant::now();
        let (long, short) = tokio::join!(
            async {
                timer.wait(Duration::from_millis(60)).await;
                started.elapsed()
            },
            async {
                tokio::task::yield_now().await;
                timer.wait(Duration::from_millis(10)).await;
                started.elapsed()
            }
        );
        assert!(short >= Duration::from_millis(10), "{short:?}");
        assert!(long >= Duration::from_millis(60), "{long:?}");
        assert!(short < long, "a later, shorter wait is answered first");
    }

    fn request(results: &[&str]) -> Value {
        let mut messages = vec![json!({"role": "user", "content": "How did 2025 go?"})];
        for (i, r) in results.iter().enumerate() {
            messages.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{i}"), "type": "function", "function": {"name": "t", "arguments": "{}"}}]}));
            messages
                .push(json!({"role": "tool", "tool_call_id": format!("call_{i}"), "content": r}));
        }
        json!({"model": "m", "messages": messages, "tools": [{"type": "function", "function": {"name": "t"}}]})
    }

    #[test]
    fn the_scripted_model_calls_each_named_tool_in_turn_then_answers_from_the_first_result() {
        let tools: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let first = r#"{"currencies": [{"currency": "JPY", "totals": {"orders": 12, "gross_sales": "3400"}}]}"#;
        for (results, name) in [
            (&[][..], "a"),
            (&[first][..], "b"),
            (&[first, "{}"][..], "c"),
        ] {
            let m = scripted(&tools, &request(results)).unwrap();
            assert_eq!(m["tool_calls"][0]["function"]["name"], name, "{m}");
        }
        let m = scripted(&tools, &request(&[first, "{}", "{}"])).unwrap();
        assert_eq!(
            m["content"],
            "The period had 12 orders and JPY 3400 of gross sales (a, b, c)."
        );
        // Without `--tools`, or a request that offers none: the plain mock.
        assert_eq!(scripted(&[], &request(&[])), None);
        let mut plain = request(&[]);
        plain["tools"] = json!([]);
        assert_eq!(scripted(&tools, &plain), None);
    }
}
