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
use conea_ai::{
    ChatRequest, ChatResponse, FinishReason, Image, ImageSource, Message, Part, Role, StreamEvent,
    ToolCall, ToolChoice, ToolSpec,
};
use conea_core::CoreError;
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::convert::Infallible;

/// The fields Conea carries (each translated for the provider that answers); any other
/// field is refused naming it.
const CARRIED: [&str; 10] = [
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "stream",
    "metadata",
    "stop_sequences",
    "tools",
    "tool_choice",
];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError(CoreError::invalid(param, message))
}

/// The text of a `system` value or a `tool_result`'s content: a string, or text blocks.
fn text(param: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => {
            let mut out = String::new();
            for (i, b) in blocks.iter().enumerate() {
                match b["type"].as_str() {
                    Some("text") => out.push_str(b["text"].as_str().ok_or_else(|| {
                        invalid(
                            &format!("{param}[{i}].text"),
                            "A text block needs its `text`.",
                        )
                    })?),
                    Some(other) => {
                        return Err(invalid(
                            &format!("{param}[{i}].type"),
                            format!("`{other}` blocks are not carried here; only `text`."),
                        ))
                    }
                    None => {
                        return Err(invalid(
                            &format!("{param}[{i}].type"),
                            "Every content block needs a `type`.",
                        ))
                    }
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

/// An `image` block's source: `base64` (`media_type`, `data`) or `url`.
fn image(param: &str, b: &Value) -> Result<Image, ApiError> {
    let source = &b["source"];
    let bad = |why: &str| invalid(&format!("{param}.source"), why.to_owned());
    let source = match source["type"].as_str() {
        Some("base64") => {
            let media_type = source["media_type"]
                .as_str()
                .filter(|m| m.starts_with("image/"))
                .ok_or_else(|| bad("A base64 image needs an image/* `media_type`."))?;
            let data = source["data"]
                .as_str()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| bad("A base64 image needs its `data`."))?;
            ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            }
        }
        Some("url") => {
            let url = source["url"].as_str().unwrap_or_default();
            match ImageSource::parse(url) {
                Ok(s @ ImageSource::Url { .. }) => s,
                _ => return Err(bad("A url image needs an http(s) `url`.")),
            }
        }
        _ => return Err(bad("An image `source` is `base64` or `url`.")),
    };
    Ok(Image {
        source,
        detail: None,
    })
}

/// One Messages turn as the gateway's messages: an assistant turn of text and `tool_use`
/// blocks; a user turn's `tool_result` blocks as tool messages (named after the call they
/// answer), then its text and images as one user message.
fn turn(i: usize, m: &Value, out: &mut Vec<Message>) -> Result<(), ApiError> {
    let param = format!("messages[{i}]");
    let assistant = match m["role"].as_str() {
        Some("user") => false,
        Some("assistant") => true,
        _ => {
            return Err(invalid(
                &format!("{param}.role"),
                "`role` is `user` or `assistant`.",
            ))
        }
    };
    let content = &m["content"];
    let blocks = match content {
        Value::String(s) => {
            let role = if assistant {
                Role::Assistant
            } else {
                Role::User
            };
            out.push(Message::new(role, s.clone()));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => {
            return Err(invalid(
                &format!("{param}.content"),
                "`content` is a string or a list of content blocks.",
            ))
        }
    };
    let mut parts: Vec<Part> = Vec::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{param}.content[{j}]");
        match (b["type"].as_str(), assistant) {
            (Some("text"), _) => {
                let t = b["text"].as_str().ok_or_else(|| {
                    invalid(&format!("{at}.text"), "A text block needs its `text`.")
                })?;
                parts.push(Part::Text(t.to_owned()));
            }
            (Some("image"), false) => parts.push(Part::Image(image(&at, b)?)),
            (Some("tool_use"), true) => {
                let id = b["id"].as_str().filter(|s| !s.is_empty());
                let name = b["name"].as_str().filter(|s| !s.is_empty());
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(invalid(
                        &at,
                        "A `tool_use` block needs its `id` and `name`.",
                    ));
                };
                let input = match &b["input"] {
                    Value::Null => json!({}),
                    v => v.clone(),
                };
                calls.push(ToolCall::new(id, name, input));
            }
            (Some("tool_result"), false) => {
                if b["is_error"] == true {
                    return Err(invalid(
                        &format!("{at}.is_error"),
                        "`is_error: true` is not carried (the gateway's tool results have no error flag); say the error in the result's content.",
                    ));
                }
                let id = b["tool_use_id"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        invalid(
                            &format!("{at}.tool_use_id"),
                            "A `tool_result` needs the `tool_use_id` it answers.",
                        )
                    })?;
                let result = match &b["content"] {
                    Value::Null => String::new(),
                    c => text(&format!("{at}.content"), c)?,
                };
                let name = out
                    .iter()
                    .flat_map(|p| p.tool_calls.iter())
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                out.push(Message::tool_result(id, name, result));
            }
            (Some(other), _) => {
                let whose = if assistant { "assistant" } else { "user" };
                return Err(invalid(
                    &format!("{at}.type"),
                    format!("`{other}` blocks in {whose} turns are not carried."),
                ));
            }
            (None, _) => {
                return Err(invalid(
                    &format!("{at}.type"),
                    "Every content block needs a `type`.",
                ))
            }
        }
    }
    if assistant {
        let text: String = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Image(_) => None,
            })
            .collect();
        out.push(Message::assistant_tool_calls(text, calls));
    } else if !parts.is_empty() {
        out.push(Message::user_parts(parts));
    }
    Ok(())
}

/// Anthropic `tools` (custom tools: `name`, `description`, `input_schema`).
fn tools(v: &Value) -> Result<Vec<ToolSpec>, ApiError> {
    let list = v
        .as_array()
        .ok_or_else(|| invalid("tools", "`tools` is a list of tools."))?;
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(ty) = t["type"].as_str().filter(|ty| *ty != "custom") {
                return Err(invalid(
                    &format!("tools[{i}].type"),
                    format!("`{ty}` tools (Anthropic-hosted) are not carried; only custom tools."),
                ));
            }
            let name = t["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid(&format!("tools[{i}].name"), "Every tool needs a `name`.")
                })?;
            let schema = match &t["input_schema"] {
                s @ Value::Object(_) => s.clone(),
                _ => {
                    return Err(invalid(
                        &format!("tools[{i}].input_schema"),
                        "`input_schema` is a JSON Schema object.",
                    ))
                }
            };
            Ok(ToolSpec::new(
                name,
                t["description"].as_str().unwrap_or_default(),
                schema,
            ))
        })
        .collect()
}

/// Anthropic `tool_choice`: `{type: auto | any | none | tool, name}`.
fn tool_choice(v: &Value, tools: &[ToolSpec]) -> Result<ToolChoice, ApiError> {
    if v["disable_parallel_tool_use"] == true {
        return Err(invalid(
            "tool_choice.disable_parallel_tool_use",
            "`disable_parallel_tool_use` is not carried (not every provider can limit a turn to one tool call).",
        ));
    }
    match v["type"].as_str() {
        Some("auto") => Ok(ToolChoice::Auto),
        Some("any") => Ok(ToolChoice::Required),
        Some("none") => Ok(ToolChoice::None),
        Some("tool") => {
            let name = v["name"].as_str().unwrap_or_default();
            if !tools.iter().any(|t| t.name == name) {
                return Err(invalid(
                    "tool_choice.name",
                    format!("`{name}` is not one of `tools`."),
                ));
            }
            Ok(ToolChoice::Tool(name.to_owned()))
        }
        _ => Err(invalid(
            "tool_choice.type",
            "`tool_choice.type` is auto, any, none or tool.",
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
        turn(i, m, &mut messages)?;
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
    if let Some(meta) = body.get("metadata").filter(|m| !m.is_null()) {
        let meta = meta
            .as_object()
            .ok_or_else(|| invalid("metadata", "`metadata` is an object."))?;
        if let Some(key) = meta.keys().find(|k| *k != "user_id") {
            return Err(invalid(
                &format!("metadata.{key}"),
                format!("`metadata.{key}` is not carried; Conea carries `metadata.user_id`."),
            ));
        }
        match meta.get("user_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(u)) => req.user = Some(u.clone()),
            Some(_) => return Err(invalid("metadata.user_id", "`user_id` is a string.")),
        }
    }
    if let Some(stop) = body.get("stop_sequences").filter(|s| !s.is_null()) {
        req.stop = stop
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                invalid(
                    "stop_sequences",
                    "`stop_sequences` is a list of non-empty strings.",
                )
            })?;
    }
    if let Some(t) = body.get("tools").filter(|t| !t.is_null()) {
        req.tools = tools(t)?;
    }
    if let Some(c) = body.get("tool_choice").filter(|c| !c.is_null()) {
        req.tool_choice = tool_choice(c, &req.tools)?;
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

/// A tool call's arguments as a `tool_use` block's `input` (an object).
fn input(c: &ToolCall) -> Value {
    match &c.arguments {
        Value::Object(_) => c.arguments.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => v,
            _ => json!({}),
        },
        _ => json!({}),
    }
}

fn message(resp: &ChatResponse) -> Value {
    let mut content = Vec::new();
    if !resp.content.is_empty() || resp.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": resp.content}));
    }
    for c in &resp.tool_calls {
        content.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input(c)}));
    }
    let stop = if resp.tool_calls.is_empty() {
        stop_reason(resp.finish_reason)
    } else {
        "tool_use"
    };
    json!({
        "id": message_id(), "type": "message", "role": "assistant", "model": resp.model,
        "content": content,
        "stop_reason": stop, "stop_sequence": null,
        "usage": {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens},
    })
}

/// The content blocks of a streamed message: a text block opens at the first text, a
/// `tool_use` block per call (its input in one `input_json_delta`); a block is stopped
/// when the next opens or the message ends.
#[derive(Default)]
struct Blocks {
    next: usize,
    open_text: Option<usize>,
    calls: usize,
}

impl Blocks {
    fn text(&mut self, text: String, out: &mut Vec<Event>) {
        let index = match self.open_text {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next += 1;
                self.open_text = Some(i);
                out.push(sse(
                    "content_block_start",
                    json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}),
                ));
                i
            }
        };
        out.push(sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
        ));
    }

    fn close_text(&mut self, out: &mut Vec<Event>) {
        if let Some(i) = self.open_text.take() {
            out.push(sse(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": i}),
            ));
        }
    }

    fn tool_use(&mut self, c: &ToolCall, out: &mut Vec<Event>) {
        self.close_text(out);
        let i = self.next;
        self.next += 1;
        self.calls += 1;
        out.push(sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}}),
        ));
        out.push(sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": input(c).to_string()}}),
        ));
        out.push(sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        ));
    }
}

fn sse(name: &str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Anthropic Messages: `{model, max_tokens, messages, system?, temperature?, stream?,
/// stop_sequences?, metadata.user_id?, tools?, tool_choice?}` with text, image, `tool_use`
/// and `tool_result` blocks → a `message` (text and `tool_use` blocks), or Anthropic's
/// stream events (`message_start`, `content_block_start` — `text` or `tool_use` —,
/// `content_block_delta` — `text_delta` or `input_json_delta` —, `content_block_stop`,
/// `message_delta`, `message_stop`) [ai:use]. Tools reach any provider through the
/// gateway's tool layer.
#[utoipa::path(post, path = "/messages", tag = "ai", request_body(content = Object, description = "Anthropic's Messages request (text, image, tool_use and tool_result blocks; tools, tool_choice, stop_sequences, metadata.user_id)"), security(("bearer" = []), ("api_key" = [])),
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
    let opening = futures::stream::iter(vec![sse("message_start", start)]);
    let mut usage = (0u64, 0u64);
    let mut blocks = Blocks::default();
    let events = routed.events.flat_map(move |e| {
        let mut out: Vec<Event> = Vec::new();
        match e {
            StreamEvent::Delta(text) => blocks.text(text, &mut out),
            StreamEvent::ToolCall(c) => blocks.tool_use(&c, &mut out),
            StreamEvent::Usage(u) => usage = (u.input_tokens, u.output_tokens),
            StreamEvent::Finish(r) => {
                if blocks.next == 0 {
                    blocks.text(String::new(), &mut out); // a message has a content block
                }
                blocks.close_text(&mut out);
                let stop = if blocks.calls > 0 {
                    "tool_use"
                } else {
                    stop_reason(r)
                };
                out.push(sse(
                    "message_delta",
                    json!({"type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": null},
                        "usage": {"input_tokens": usage.0, "output_tokens": usage.1}}),
                ));
                out.push(sse("message_stop", json!({"type": "message_stop"})));
            }
            StreamEvent::Error(e) => {
                let mut err = error_event(&e);
                err["type"] = json!("error");
                out.push(sse("error", err));
            }
        }
        futures::stream::iter(out)
    });
    let all = opening.chain(events).map(Ok::<_, Infallible>);
    Ok(with_provider(
        Sse::new(all).into_response(),
        &routed.provider,
    ))
}
