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
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone)]
struct Mock {
    latency: Duration,
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
    let latency = mock.latency;
    // Tokio's timers tick in whole milliseconds: a 20 ms sleep ends anywhere in 20–21 ms (and
    // later when the runtime is busy), which made the direct p99 jump by a millisecond
    // between runs. A blocking-pool thread's sleep ends within the kernel's timer slack
    // (~50 µs), so the mock's latency is the same in every run.
    let _ = tokio::task::spawn_blocking(move || std::thread::sleep(latency)).await;
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
