//! A scripted fake OpenAI Chat Completions server with tools (the wire format of
//! `tests/api/insights.rs`'s fake): the first turn calls `sales_over_time`, the next writes
//! its answer from that tool result, so every number in it is grounded. With `stream: true`
//! the same replies come as an OpenAI chunk stream (the text in pieces of 8 characters).

use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{json, Value};

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").map(text_of))
            .collect(),
        _ => String::new(),
    }
}

async fn completions(axum::Json(body): axum::Json<Value>) -> axum::response::Response {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let result = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .map(|m| text_of(&m["content"]));
    let message = match result {
        None => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "sales_over_time", "arguments": "{}"}}]}),
        Some(r) => {
            let r: Value = serde_json::from_str(&r).unwrap_or_default();
            let c = &r["currencies"][0];
            let text = format!(
                "You had {} orders and {} {} of gross sales (sales_over_time).",
                c["totals"]["orders"],
                c["totals"]["gross_sales"].as_str().unwrap_or("0"),
                c["currency"].as_str().unwrap_or("")
            );
            json!({"role": "assistant", "content": text})
        }
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    if body["stream"] == true {
        return stream(&body["model"], &message, finish);
    }
    axum::Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    }))
    .into_response()
}

/// The reply as `data:` chunks: the content in pieces, each tool call, the finish reason,
/// the usage chunk and `[DONE]`.
fn stream(model: &Value, message: &Value, finish: &str) -> axum::response::Response {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut out = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    let text: Vec<char> = message["content"].as_str().unwrap_or("").chars().collect();
    for piece in text.chunks(8) {
        let piece: String = piece.iter().collect();
        out.push_str(&chunk(json!({"content": piece}), Value::Null));
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.push_str(&chunk(
            json!({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}}]}),
            Value::Null,
        ));
    }
    out.push_str(&chunk(json!({}), json!(finish)));
    let usage = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}});
    out.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    ([("content-type", "text/event-stream")], out).into_response()
}

/// Starts the fake; its base URL (for `OPENAI_BASE_URL`).
pub async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/v1/chat/completions", post(completions));
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/v1")
}
