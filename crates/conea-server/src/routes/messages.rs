//! `POST /v1/messages`: Anthropic's Messages API shape, so the Anthropic SDKs work with only
//! `base_url` and the key changed (the key goes in `x-api-key`, which Conea accepts), through
//! the same router, fallback, limits and usage as every AI call — whichever provider answers.
//!
//! A request field the gateway cannot carry is refused with 400 naming it, never dropped.

use super::ai::{error_event, with_provider};
use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use conea_ai::{ChatRequest, ChatResponse, FinishReason, Message, Role, StreamEvent};
use conea_core::CoreError;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::convert::Infallible;

/// The fields Conea carries; `metadata` is accepted and not sent on (it names the end
/// user for Anthropic's abuse detection, not a generation setting).
const CARRIED: [&str; 7] = [
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "stream",
    "metadata",
];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError(CoreError::invalid(param, message))
}

/// The text of a `content` or `system` value: a string, or text blocks.
fn text(param: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut out = String::new();
            for (i, b) in blocks.iter().enumerate() {
                match b["type"].as_str() {
                    Some("text") => out.push_str(b["text"].as_str().ok_or_else(|| {
                        invalid(param, format!("`{param}[{i}].text` is not a string."))
                    })?),
                    Some(other) => {
                        return Err(invalid(
                            param,
                            format!(
                            "`{param}[{i}]` is a `{other}` block; only `text` blocks are carried."
                        ),
                        ))
                    }
                    None => return Err(invalid(param, format!("`{param}[{i}]` has no `type`."))),
                }
            }
            Ok(out)
        }
        _ => Err(invalid(
            param,
            format!("`{param}` is a string or a list of content blocks."),
        )),
    }
}

/// Anthropic's request as the gateway's.
fn chat_request(body: &Map<String, Value>) -> Result<(ChatRequest, bool), ApiError> {
    for key in body.keys() {
        if !CARRIED.contains(&key.as_str()) {
            return Err(invalid(
                key,
                format!(
                    "`{key}` is not supported by Conea's Messages endpoint (carried: {}).",
                    CARRIED.join(", ")
                ),
            ));
        }
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("model", "`model` is required."))?;
    let max_tokens = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|n| *n >= 1 && *n <= u64::from(u32::MAX))
        .ok_or_else(|| {
            invalid(
                "max_tokens",
                "`max_tokens` is a whole number of at least 1.",
            )
        })?;
    let list = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "Send at least one message."))?;
    let mut messages = Vec::new();
    if let Some(system) = body.get("system") {
        messages.push(Message::system(text("system", system)?));
    }
    for (i, m) in list.iter().enumerate() {
        let param = format!("messages[{i}]");
        let role = match m["role"].as_str() {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => {
                return Err(invalid(
                    &param,
                    format!("`{param}.role` is `user` or `assistant`."),
                ))
            }
        };
        messages.push(Message::new(
            role,
            text(&format!("{param}.content"), &m["content"])?,
        ));
    }
    let mut req = ChatRequest::new(model, messages);
    req.max_tokens = Some(max_tokens as u32);
    if let Some(t) = body.get("temperature") {
        let t = t
            .as_f64()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or_else(|| invalid("temperature", "`temperature` is between 0 and 1."))?;
        req.temperature = Some(t as f32);
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` is true or false.")),
    };
    Ok((req, stream))
}

fn stop_reason(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Stop | FinishReason::Other => "end_turn",
    }
}

fn message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

fn message(resp: &ChatResponse) -> Value {
    json!({
        "id": message_id(), "type": "message", "role": "assistant", "model": resp.model,
        "content": [{"type": "text", "text": resp.content}],
        "stop_reason": stop_reason(resp.finish_reason), "stop_sequence": null,
        "usage": {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens},
    })
}

fn sse(name: &str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Anthropic Messages: `{model, max_tokens, messages, system?, temperature?, stream?}` →
/// a `message`, or Anthropic's stream events (`message_start`, `content_block_start`,
/// `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`) [ai:use].
#[utoipa::path(post, path = "/messages", tag = "ai", request_body(content = Object, description = "Anthropic's Messages request (text content)"), security(("bearer" = []), ("api_key" = [])),
    responses(
    (status = 200, description = "an Anthropic `message` (or its SSE events); header X-Conea-Provider"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (a field Conea cannot carry is named), `unknown_model`"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let (req, stream) = chat_request(&body)?;
    let gateway = &state.platform().ai;
    if !stream {
        let (resp, _) = gateway.complete(&p, &req).await?;
        return Ok(with_provider(
            axum::Json(message(&resp)).into_response(),
            &resp.provider,
        ));
    }
    let routed = gateway.stream(&p, &req).await?;
    let start = json!({"type": "message_start", "message": {
        "id": message_id(), "type": "message", "role": "assistant", "model": routed.model,
        "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": 0, "output_tokens": 0}}});
    let opening = futures::stream::iter(vec![
        sse("message_start", start),
        sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
    ]);
    let mut usage = (0u64, 0u64);
    let events = routed.events.flat_map(move |e| {
        let out: Vec<Event> = match e {
            StreamEvent::Delta(text) => vec![sse(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            )],
            StreamEvent::Usage(u) => {
                usage = (u.input_tokens, u.output_tokens);
                vec![]
            }
            StreamEvent::Finish(r) => vec![
                sse("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
                sse(
                    "message_delta",
                    json!({"type": "message_delta",
                        "delta": {"stop_reason": stop_reason(r), "stop_sequence": null},
                        "usage": {"input_tokens": usage.0, "output_tokens": usage.1}}),
                ),
                sse("message_stop", json!({"type": "message_stop"})),
            ],
            // `tools` is not carried here, so no model is offered a tool to call.
            StreamEvent::ToolCall(_) => vec![],
            StreamEvent::Error(e) => {
                let mut err = error_event(&e);
                err["type"] = json!("error");
                vec![sse("error", err)]
            }
        };
        futures::stream::iter(out)
    });
    let all = opening.chain(events).map(Ok::<_, Infallible>);
    Ok(with_provider(
        Sse::new(all).into_response(),
        &routed.provider,
    ))
}
