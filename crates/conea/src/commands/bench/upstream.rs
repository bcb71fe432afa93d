//! `conea bench upstream`: a mock OpenAI Chat Completions server with a fixed latency, so
//! the gateway's overhead can be measured as (through Conea) − (direct). It also lists its
//! model (`GET /v1/models`), so model discovery runs as it does against OpenAI.

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

async fn chat(State(latency): State<Duration>, axum::Json(body): axum::Json<Value>) -> Response {
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

pub async fn run(bind: &str, latency: &str) -> Result<ExitCode> {
    let latency =
        conea_core::config::duration::parse(latency).map_err(|e| anyhow!("--latency: {e}"))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", axum::routing::get(models))
        .with_state(latency);
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
