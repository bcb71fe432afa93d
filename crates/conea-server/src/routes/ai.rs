//! The AI gateway over HTTP: Conea's own format (`/v1/ai/…`) and the OpenAI-compatible
//! surface (`/v1/chat/completions`, `/v1/models`) so the official OpenAI SDKs work with
//! only their base URL and key changed. Streams are SSE; an upstream failure after the first
//! byte ends the stream with an explicit error event, never a clean finish.

use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use conea_ai::usage::UsageGroup;
use conea_ai::{
    ChatRequest, ChatResponse, FinishReason, Image, ImageSource, Message, Part, ResponseFormat,
    Role, StreamEvent, ToolCall, ToolChoice, ToolSpec,
};
use conea_core::clock::parse_rfc3339;
use conea_core::error::ErrorType;
use conea_core::CoreError;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::convert::Infallible;

const PROVIDER_HEADER: &str = "x-conea-provider";

pub(crate) fn with_provider(mut r: Response, provider: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(provider) {
        r.headers_mut()
            .insert(HeaderName::from_static(PROVIDER_HEADER), v);
    }
    r
}

pub(crate) fn error_event(e: &conea_ai::UpstreamError) -> Value {
    json!({"error": {"type": ErrorType::Upstream.as_str(), "code": e.code(), "message": format!("The provider failed after the answer started: {e}"), "request_id": crate::http::request_id::current()}})
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ConeaMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    /// An alias from the `[ai]` configuration, or `provider/model`.
    pub model: String,
    pub messages: Vec<ConeaMessage>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    /// `true` (default: the alias's targets in order), `false` (only the first target), or
    /// a list of `provider/model` targets to try after the first.
    #[schema(value_type = Option<Object>)]
    pub fallback: Option<Value>,
}

fn fallback(v: Option<Value>) -> Result<conea_ai::Fallback, ApiError> {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(true)) => Ok(conea_ai::Fallback::Default),
        Some(Value::Bool(false)) => Ok(conea_ai::Fallback::Enabled(false)),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(conea_ai::Fallback::Targets)
            .ok_or_else(|| {
                ApiError(CoreError::invalid(
                    "fallback",
                    "`fallback` lists `provider/model` strings.",
                ))
            }),
        Some(_) => Err(ApiError(CoreError::invalid(
            "fallback",
            "`fallback` is true, false or a list of `provider/model` targets.",
        ))),
    }
}

fn role(text: &str, i: usize) -> Result<Role, ApiError> {
    match text {
        "system" | "developer" => Ok(Role::System),
        "user" => Ok(Role::User),
        "assistant" => Ok(Role::Assistant),
        other => Err(ApiError(CoreError::invalid(
            &format!("messages[{i}].role"),
            format!("`{other}` is not a role: use system, user or assistant."),
        ))),
    }
}

fn chat_request(
    model: String,
    messages: Vec<(String, String)>,
    max_tokens: Option<u32>,
    temperature: Option<f32>,
) -> Result<ChatRequest, ApiError> {
    if messages.is_empty() {
        return Err(ApiError(CoreError::invalid(
            "messages",
            "Send at least one message.",
        )));
    }
    let messages = messages
        .into_iter()
        .enumerate()
        .map(|(i, (r, c))| Ok(Message::new(role(&r, i)?, c)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut req = ChatRequest::new(model, messages);
    req.max_tokens = max_tokens;
    req.temperature = temperature;
    Ok(req)
}

/// Every alias and provider model with its status (`ok`, `degraded`, `circuit_open`,
/// `misconfigured`) and last error [ai:use].
#[utoipa::path(get, path = "/ai/models", tag = "ai", security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "aliases and providers with status"), (status = 403, body = ErrorBody)))]
pub async fn models(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    Ok(axum::Json(state.platform().ai.models(&p)?).into_response())
}

/// A completion in Conea's format, with fallback across the alias's targets [ai:use].
/// `stream: true` answers SSE events `delta`, `usage`, `done`, or a final `error`.
#[utoipa::path(post, path = "/ai/completions", tag = "ai", request_body = CompletionRequest, security(("bearer" = []), ("api_key" = [])),
    responses(
    (status = 200, description = "`{id, model, provider, content, finish_reason, usage, attempts}`; header X-Conea-Provider"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter`, `unknown_model`, `context_length_exceeded` (numbers in details)"),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed` (every attempt in details.attempts)"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`")))]
pub async fn completions(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<CompletionRequest>,
) -> ApiResult<Response> {
    let messages = body
        .messages
        .into_iter()
        .map(|m| (m.role, m.content))
        .collect();
    let mut req = chat_request(body.model, messages, body.max_tokens, body.temperature)?;
    req.fallback = fallback(body.fallback)?;
    let gateway = &state.platform().ai;
    if body.stream {
        let routed = gateway.stream(&p, &req).await?;
        let events = routed.events.map(|e| {
            Ok::<_, Infallible>(match e {
                StreamEvent::Delta(text) => Event::default()
                    .event("delta")
                    .data(json!({"content": text}).to_string()),
                StreamEvent::ToolCall(c) => Event::default().event("tool_call").data(
                    json!({"id": c.id, "name": c.name, "arguments": c.arguments}).to_string(),
                ),
                StreamEvent::Usage(u) => Event::default().event("usage").data(
                    json!({"input_tokens": u.input_tokens, "output_tokens": u.output_tokens})
                        .to_string(),
                ),
                StreamEvent::Finish(r) => Event::default()
                    .event("done")
                    .data(json!({"finish_reason": r.as_str()}).to_string()),
                StreamEvent::Error(e) => Event::default()
                    .event("error")
                    .data(error_event(&e).to_string()),
            })
        });
        return Ok(with_provider(
            Sse::new(events).into_response(),
            &routed.provider,
        ));
    }
    let (resp, attempts) = gateway.complete(&p, &req).await?;
    let body = json!({
        "id": resp.id, "model": resp.model, "provider": resp.provider, "content": resp.content,
        "finish_reason": resp.finish_reason.as_str(),
        "usage": {"input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens},
        "attempts": attempts,
    });
    Ok(with_provider(
        axum::Json(body).into_response(),
        &resp.provider,
    ))
}

// ----- OpenAI-compatible -----

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenAiMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, or an array of `{type: "text", text}` parts (null for an assistant turn
    /// that only called tools).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Value,
    /// Assistant turns: `[{id, type: "function", function: {name, arguments}}]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Vec<Value>>,
    /// Tool turns: the id of the call answered.
    pub tool_call_id: Option<String>,
}

/// OpenAI's Chat Completions request. Every field is carried to the provider that answers
/// (translated into its format) or refused with 400 naming it; a field not listed here is
/// refused (docs/api.md, "Parameters by provider").
#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenAiRequest {
    pub model: String,
    /// A message's `content` is a string or an array of `{type: "text", text}` and (user
    /// messages) `{type: "image_url", image_url: {url, detail?}}` parts; `url` is a
    /// `data:image/…;base64,…` URL or an `http(s)` URL the provider fetches.
    pub messages: Vec<OpenAiMessage>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    /// `{include_usage: true}` adds a last chunk with empty `choices` and the `usage`.
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<Value>,
    /// `[{type: "function", function: {name, description, parameters}}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// `auto`, `none`, `required` or `{type: "function", function: {name}}`.
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    /// `{type: "text"}`, `{type: "json_object"}` or `{type: "json_schema", json_schema:
    /// {name, schema, strict?, description?}}`; a provider without JSON mode (Anthropic)
    /// is skipped, and refused with 400 when it is the only target.
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    /// A stop sequence or a list of up to 4.
    #[schema(value_type = Option<Object>)]
    pub stop: Option<Value>,
    /// Sampling seed (not Anthropic).
    pub seed: Option<i64>,
    /// The end user's id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Fields Conea does not carry: refused when set.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: serde_json::Map<String, Value>,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError(CoreError::invalid(field, message.into()))
}

/// OpenAI `tools` as tool specs: a function needs a name, and its parameters (when given)
/// are a JSON Schema object.
fn openai_tools(tools: &[Value]) -> Result<Vec<ToolSpec>, ApiError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if t.get("type").is_some_and(|ty| ty != "function") {
                return Err(invalid(
                    &format!("tools[{i}].type"),
                    "Only `function` tools are supported.",
                ));
            }
            let f = &t["function"];
            let name = f["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid(
                        &format!("tools[{i}].function.name"),
                        "Every tool needs a `function.name`.",
                    )
                })?;
            let parameters = match f.get("parameters") {
                None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
                Some(p @ Value::Object(_)) => p.clone(),
                Some(_) => {
                    return Err(invalid(
                        &format!("tools[{i}].function.parameters"),
                        "`function.parameters` is a JSON Schema object.",
                    ))
                }
            };
            let description = f["description"].as_str().unwrap_or_default();
            Ok(ToolSpec::new(name, description, parameters))
        })
        .collect()
}

fn openai_tool_choice(v: Option<&Value>) -> Result<ToolChoice, ApiError> {
    let bad = || {
        invalid(
            "tool_choice",
            "`tool_choice` is auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}.",
        )
    };
    match v {
        None | Some(Value::Null) => Ok(ToolChoice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Some(o) => o
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| ToolChoice::Tool(n.to_owned()))
            .ok_or_else(bad),
    }
}

/// OpenAI messages as the gateway's: assistant `tool_calls` (arguments are JSON text),
/// `tool` results (named after the call they answer) and user images.
fn openai_messages(messages: &[OpenAiMessage]) -> Result<Vec<Message>, ApiError> {
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let (content, parts) = content_of(i, &m.role, &m.content)?;
        if !parts.is_empty() {
            out.push(Message::user_parts(parts));
            continue;
        }
        if m.role == "tool" {
            let id = m
                .tool_call_id
                .clone()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    invalid(
                        &format!("messages[{i}].tool_call_id"),
                        "A `tool` message needs the `tool_call_id` it answers.",
                    )
                })?;
            let name = out
                .iter()
                .flat_map(|p| p.tool_calls.iter())
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            out.push(Message::tool_result(id, name, content));
            continue;
        }
        let role = role(&m.role, i)?;
        let calls = m.tool_calls.as_deref().unwrap_or_default();
        if calls.is_empty() {
            out.push(Message::new(role, content));
            continue;
        }
        if role != Role::Assistant {
            return Err(invalid(
                &format!("messages[{i}].tool_calls"),
                "Only assistant messages carry `tool_calls`.",
            ));
        }
        let calls = calls
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let field = format!("messages[{i}].tool_calls[{j}]");
                let id = c["id"].as_str().ok_or_else(|| {
                    invalid(&format!("{field}.id"), "Every tool call needs an `id`.")
                })?;
                let name = c
                    .pointer("/function/name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            &format!("{field}.function.name"),
                            "Every tool call needs a `function.name`.",
                        )
                    })?;
                let args = match c.pointer("/function/arguments") {
                    Some(Value::String(s)) => ToolCall::parse_arguments(s),
                    Some(v) => v.clone(),
                    None => json!({}),
                };
                Ok(ToolCall::new(id, name, args))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        out.push(Message::assistant_tool_calls(content, calls));
    }
    Ok(out)
}

/// A message's `content`: its text, and its parts when it holds images (user messages
/// only). A part Conea cannot carry is a 400 naming it, never dropped.
fn content_of(i: usize, role: &str, content: &Value) -> Result<(String, Vec<Part>), ApiError> {
    let parts = match content {
        Value::Null => return Ok((String::new(), Vec::new())),
        Value::String(s) => return Ok((s.clone(), Vec::new())),
        Value::Array(parts) => parts,
        _ => {
            return Err(invalid(
                &format!("messages[{i}].content"),
                "`content` is a string or an array of content parts.",
            ))
        }
    };
    let mut text = String::new();
    let mut out = Vec::with_capacity(parts.len());
    let mut images = false;
    for (j, p) in parts.iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match p["type"].as_str() {
            Some("text") => {
                let t = p["text"].as_str().ok_or_else(|| {
                    invalid(&format!("{at}.text"), "A text part needs its `text`.")
                })?;
                text.push_str(t);
                out.push(Part::Text(t.to_owned()));
            }
            Some("image_url") if role == "user" => {
                let url = p
                    .pointer("/image_url/url")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            &format!("{at}.image_url.url"),
                            "An image part needs `image_url.url`.",
                        )
                    })?;
                let source = ImageSource::parse(url)
                    .map_err(|why| invalid(&format!("{at}.image_url.url"), format!("{why}.")))?;
                let detail = match p.pointer("/image_url/detail") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(d)) if matches!(d.as_str(), "auto" | "low" | "high") => {
                        Some(d.clone())
                    }
                    Some(_) => {
                        return Err(invalid(
                            &format!("{at}.image_url.detail"),
                            "`detail` is auto, low or high.",
                        ))
                    }
                };
                images = true;
                out.push(Part::Image(Image { source, detail }));
            }
            Some("image_url") => {
                return Err(invalid(&at, "Images are carried in user messages only."))
            }
            Some(other) => {
                return Err(invalid(
                    &format!("{at}.type"),
                    format!(
                    "`{other}` parts are not carried; Conea carries `text` and `image_url` parts."
                ),
                ))
            }
            None => {
                return Err(invalid(
                    &format!("{at}.type"),
                    "Every content part needs a `type`.",
                ))
            }
        }
    }
    Ok((text, if images { out } else { Vec::new() }))
}

/// `response_format`: `text` (the default, nothing to carry), `json_object`, or
/// `json_schema` with a `name` and a `schema` object.
fn openai_response_format(v: Option<&Value>) -> Result<Option<ResponseFormat>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    match v["type"].as_str() {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let spec = &v["json_schema"];
            let name = spec["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    invalid(
                        "response_format.json_schema.name",
                        "A JSON schema format needs a `name`.",
                    )
                })?;
            let schema = match spec.get("schema") {
                Some(s @ Value::Object(_)) => s.clone(),
                None | Some(Value::Null) => json!({"type": "object"}),
                Some(_) => {
                    return Err(invalid(
                        "response_format.json_schema.schema",
                        "`schema` is a JSON Schema object.",
                    ))
                }
            };
            let strict = match spec.get("strict") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => {
                    return Err(invalid(
                        "response_format.json_schema.strict",
                        "`strict` is true or false.",
                    ))
                }
            };
            Ok(Some(ResponseFormat::JsonSchema {
                name: name.to_owned(),
                description: spec["description"].as_str().map(str::to_owned),
                schema,
                strict,
            }))
        }
        _ => Err(invalid(
            "response_format.type",
            "`response_format.type` is text, json_object or json_schema.",
        )),
    }
}

/// `stop`: one sequence or a list of up to 4, none empty.
fn openai_stop(v: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let bad = || {
        invalid(
            "stop",
            "`stop` is a non-empty string or a list of up to 4 of them.",
        )
    };
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?,
        Some(_) => return Err(bad()),
    };
    if list.len() > 4 || list.iter().any(String::is_empty) {
        return Err(bad());
    }
    Ok(list)
}

/// `stream_options.include_usage` (false when absent).
fn include_usage(v: Option<&Value>) -> Result<bool, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Object(o)) => {
            if let Some(key) = o.keys().find(|k| *k != "include_usage") {
                return Err(invalid(
                    &format!("stream_options.{key}"),
                    format!(
                        "`stream_options.{key}` is not carried; Conea carries `include_usage`."
                    ),
                ));
            }
            match o.get("include_usage") {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(invalid(
                    "stream_options.include_usage",
                    "`include_usage` is true or false.",
                )),
            }
        }
        Some(_) => Err(invalid("stream_options", "`stream_options` is an object.")),
    }
}

/// Refuses a set field Conea does not carry (`n`, `logprobs`, `top_p`, …): dropping it
/// would change the answer without saying so.
fn refuse_uncarried(other: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    match other.iter().find(|(_, v)| !v.is_null()) {
        Some((key, _)) => Err(invalid(
            key,
            format!("`{key}` is not carried by Conea's /v1/chat/completions; remove it (docs/api.md lists the parameters carried to each provider)."),
        )),
        None => Ok(()),
    }
}

fn openai_finish(r: FinishReason) -> &'static str {
    match r {
        FinishReason::Length => "length",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::Stop | FinishReason::Other => "stop",
    }
}

/// Tool calls in OpenAI's shape (arguments as JSON text).
fn openai_calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_text()}}))
        .collect()
}

/// OpenAI's `chat.completion`, serialized straight from the answer: building it as a
/// `serde_json::Value` first (a map per object, a copy of every string) was 7 % of the
/// instructions of a proxied completion.
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [CompletionChoice<'a>; 1],
    usage: CompletionUsage,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    index: u32,
    message: CompletionMessage<'a>,
    finish_reason: &'static str,
    logprobs: Option<()>,
}

#[derive(Serialize)]
struct CompletionMessage<'a> {
    role: &'static str,
    /// `null` when the answer is only tool calls.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Value>,
}

#[derive(Serialize)]
struct CompletionUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

fn openai_completion(resp: &ChatResponse, created: i64) -> Completion<'_> {
    let calls = !resp.tool_calls.is_empty();
    Completion {
        id: &resp.id,
        object: "chat.completion",
        created,
        model: &resp.model,
        choices: [CompletionChoice {
            index: 0,
            message: CompletionMessage {
                role: "assistant",
                content: (!calls || !resp.content.is_empty()).then_some(resp.content.as_str()),
                tool_calls: calls.then(|| openai_calls(&resp.tool_calls)),
            },
            finish_reason: if calls {
                "tool_calls"
            } else {
                openai_finish(resp.finish_reason)
            },
            logprobs: None,
        }],
        usage: CompletionUsage {
            prompt_tokens: resp.usage.input_tokens,
            completion_tokens: resp.usage.output_tokens,
            total_tokens: resp.usage.input_tokens + resp.usage.output_tokens,
        },
    }
}

/// OpenAI Chat Completions, answered by whichever provider the fallback reaches; streaming
/// in OpenAI's SSE format (`data: {chunk}` … `data: [DONE]`) [ai:use].
#[utoipa::path(post, path = "/chat/completions", tag = "ai", request_body = OpenAiRequest, security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "an OpenAI `chat.completion` (or SSE chunks)"), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<OpenAiRequest>,
) -> ApiResult<Response> {
    refuse_uncarried(&body.other)?;
    if body.messages.is_empty() {
        return Err(invalid("messages", "Send at least one message."));
    }
    let mut req = ChatRequest::new(body.model.clone(), openai_messages(&body.messages)?);
    req.max_tokens = body.max_completion_tokens.or(body.max_tokens);
    req.temperature = body.temperature;
    req.tools = openai_tools(body.tools.as_deref().unwrap_or_default())?;
    req.tool_choice = openai_tool_choice(body.tool_choice.as_ref())?;
    req.response_format = openai_response_format(body.response_format.as_ref())?;
    req.stop = openai_stop(body.stop.as_ref())?;
    req.seed = body.seed;
    req.user = body.user.clone();
    let include_usage = include_usage(body.stream_options.as_ref())?;
    if let ToolChoice::Tool(name) = &req.tool_choice {
        if !req.tools.iter().any(|t| &t.name == name) {
            return Err(invalid(
                "tool_choice",
                format!("`{name}` is not one of `tools`."),
            ));
        }
    }
    let gateway = &state.platform().ai;
    let created = state.clock().now_ms() / 1000;
    if !body.stream {
        let (resp, _) = gateway.complete(&p, &req).await?;
        return Ok(with_provider(
            axum::Json(openai_completion(&resp, created)).into_response(),
            &resp.provider,
        ));
    }
    let routed = gateway.stream(&p, &req).await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let model = routed.model.clone();
    let chunk = move |delta: Value, finish: Option<&str>, usage: Option<Value>| {
        let mut c = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]});
        if let Some(u) = usage {
            c["choices"] = json!([]);
            c["usage"] = u;
        }
        Event::default().data(c.to_string())
    };
    let mut first = true;
    let mut call_index = 0usize;
    // OpenAI sends the usage chunk after the finish chunk, right before `[DONE]`.
    let mut usage: Option<Value> = None;
    let events = routed.events.flat_map(move |e| {
        let out: Vec<Event> = match e {
            StreamEvent::Delta(text) => {
                let delta = if first { json!({"role": "assistant", "content": text}) } else { json!({"content": text}) };
                first = false;
                vec![chunk(delta, None, None)]
            }
            StreamEvent::ToolCall(c) => {
                let mut call = openai_calls(std::slice::from_ref(&c));
                call[0]["index"] = json!(call_index);
                call_index += 1;
                let delta = if first { json!({"role": "assistant", "content": null, "tool_calls": call}) } else { json!({"tool_calls": call}) };
                first = false;
                vec![chunk(delta, None, None)]
            }
            StreamEvent::Usage(u) => {
                if include_usage {
                    usage = Some(json!({"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens, "total_tokens": u.input_tokens + u.output_tokens}));
                }
                vec![]
            }
            StreamEvent::Finish(r) => {
                let finish = if call_index > 0 { "tool_calls" } else { openai_finish(r) };
                let mut out = vec![chunk(json!({}), Some(finish), None)];
                if let Some(u) = usage.take() {
                    out.push(chunk(json!({}), None, Some(u)));
                }
                out.push(Event::default().data("[DONE]"));
                out
            }
            StreamEvent::Error(e) => vec![Event::default().data(error_event(&e).to_string())],
        };
        futures::stream::iter(out.into_iter().map(Ok::<_, Infallible>))
    });
    Ok(with_provider(
        Sse::new(events).into_response(),
        &routed.provider,
    ))
}

/// OpenAI's model list: every name a request can use — aliases and `default`, each
/// provider's discovered models by their bare names, the aliases' targets as
/// `provider/model` [ai:use].
#[utoipa::path(get, path = "/models", tag = "ai", security(("bearer" = []), ("api_key" = [])), responses((status = 200, description = "`{object: list, data: [{id, object: model, created, owned_by}]}`; `owned_by` is the provider that answers (`conea` for aliases)"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn openai_models(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let data: Vec<Value> = state
        .platform()
        .ai
        .routable_models(&p)?
        .iter()
        .map(openai_model)
        .collect();
    Ok(axum::Json(json!({"object": "list", "data": data})).into_response())
}

/// One model in OpenAI's shape: a listed name or any name that routes (`provider/model`,
/// a bare name by its prefix) [ai:use].
#[utoipa::path(get, path = "/models/{id}", tag = "ai", params(("id" = String, Path, description = "A model name (`provider/model` with its `/` encoded as `%2F`)")), security(("bearer" = []), ("api_key" = [])), responses((status = 200, description = "`{id, object: model, created, owned_by}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn openai_model_get(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    match state.platform().ai.routable_model(&p, &id)? {
        Some(m) => Ok(axum::Json(openai_model(&m)).into_response()),
        None => Err(CoreError::not_found("model", id).into()),
    }
}

fn openai_model(m: &conea_ai::RoutableModel) -> Value {
    json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by})
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// RFC 3339 start (default: 30 days ago).
    #[param(schema_with = super::schemas::date_time)]
    pub from: Option<String>,
    /// RFC 3339 end (default: now).
    #[param(schema_with = super::schemas::date_time)]
    pub to: Option<String>,
    /// `provider`, `model`, `api_key` or `day` (default `model`).
    #[param(schema_with = usage_group)]
    pub group_by: Option<String>,
}

fn usage_group() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["provider", "model", "api_key", "day"])
}

/// Tokens used by your organization, grouped [ai:use].
#[utoipa::path(get, path = "/ai/usage", tag = "ai", params(UsageParams), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "`{from, to, group_by, data: [{group, requests, input_tokens, output_tokens}]}`"), (status = 400, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<UsageParams>,
) -> ApiResult<Response> {
    let now = state.clock().now_ms();
    let time = |t: &Option<String>, name: &str, default: i64| match t {
        None => Ok(default),
        Some(s) => parse_rfc3339(s).ok_or_else(|| {
            ApiError(CoreError::invalid(
                name,
                format!("`{name}` must be an RFC 3339 time."),
            ))
        }),
    };
    let from = time(&q.from, "from", now - 30 * 86_400_000)?;
    let to = time(&q.to, "to", now + 1)?;
    let group_name = q.group_by.as_deref().unwrap_or("model");
    let group = UsageGroup::parse(group_name).ok_or_else(|| {
        ApiError(CoreError::invalid(
            "group_by",
            "`group_by` is provider, model, api_key or day.",
        ))
    })?;
    let rows = state.platform().ai.usage(&p, from, to, group).await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"group": r.group, "requests": r.requests, "input_tokens": r.input_tokens, "output_tokens": r.output_tokens}))
        .collect();
    Ok(axum::Json(json!({"from": conea_core::clock::rfc3339(from), "to": conea_core::clock::rfc3339(to), "group_by": group_name, "data": data})).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct BudgetRequest {
    /// Tokens (input + output) per calendar month (UTC); null removes the budget.
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "crate::http::json::integral_opt")]
    pub monthly_tokens: Option<i64>,
}

/// Sets an organization's monthly token budget [admin]; enforced on every replica before
/// any provider is called (429 `budget_exceeded`).
#[utoipa::path(put, path = "/ai/budgets/{org_id}", tag = "ai", request_body = BudgetRequest, params(("org_id" = String, Path)),
    security(("bearer" = []), ("api_key" = [])), responses((status = 200, description = "`{organization_id, monthly_tokens}`"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_budget(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(org_id): Path<String>,
    ApiJson(body): ApiJson<BudgetRequest>,
) -> ApiResult<Response> {
    state
        .platform()
        .ai
        .set_budget(Some(&p), &org_id, body.monthly_tokens)
        .await?;
    Ok(
        axum::Json(json!({"organization_id": org_id, "monthly_tokens": body.monthly_tokens}))
            .into_response(),
    )
}
