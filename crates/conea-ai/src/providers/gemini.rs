//! Google Gemini: `POST {base}/v1beta/models/{model}:generateContent`, and
//! `:streamGenerateContent?alt=sse` for streaming, with the key in `x-goog-api-key`.
//! Roles are `user`/`model`, the system prompt is `systemInstruction`, limits go in
//! `generationConfig`. Each streamed SSE event is a whole `GenerateContentResponse`; the
//! stream has no end marker: it is complete when a candidate carried a `finishReason`.
//! Errors are `{"error": {"code", "message", "status"}}` (429 `RESOURCE_EXHAUSTED` may carry
//! a `RetryInfo.retryDelay`); a context overflow is a 400 `INVALID_ARGUMENT` "The input
//! token count (M) exceeds the maximum number of tokens allowed (N)."

use super::util::{arguments_object, frame_json, synth_call_id, u64_at, JsonPath};
use super::{Endpoint, Wire};
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::http::classify::{error_message, number_after};
use crate::http::{ErrorHints, Frame, Framing, Step, StreamDecoder, StreamState, WireRequest};
use crate::types::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Part, ResponseFormat, Role, ToolCall,
    ToolChoice, Usage,
};
use serde_json::{json, Value};
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

pub struct Gemini;

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => FinishReason::ToolCalls,
        _ => FinishReason::Other,
    }
}

/// The conversation as `contents`: assistant tool calls become `functionCall` parts of a
/// `model` turn, consecutive tool results one `user` turn of `functionResponse` parts
/// (`response: {"output": …}`, the result parsed as JSON when it is JSON).
fn contents(req: &ChatRequest) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for m in req.turns() {
        if m.role == Role::Tool {
            let output =
                serde_json::from_str::<Value>(&m.content).unwrap_or_else(|_| json!(m.content));
            results.push(json!({ "functionResponse": { "name": m.tool_name(), "response": { "output": output } } }));
            continue;
        }
        if !results.is_empty() {
            out.push(json!({ "role": "user", "parts": std::mem::take(&mut results) }));
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let mut parts = Vec::new();
            if !m.content.is_empty() {
                parts.push(json!({ "text": m.content }));
            }
            for c in &m.tool_calls {
                parts.push(json!({ "functionCall": { "name": c.name, "args": arguments_object(&c.arguments) } }));
            }
            out.push(json!({ "role": "model", "parts": parts }));
        } else if !m.parts.is_empty() {
            out.push(json!({ "role": "user", "parts": media_parts(&m.parts) }));
        } else {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            out.push(json!({ "role": role, "parts": [{ "text": m.content }] }));
        }
    }
    if !results.is_empty() {
        out.push(json!({ "role": "user", "parts": results }));
    }
    out
}

/// Text and images as parts: inline bytes as `inlineData`, a URL as `fileData` with the
/// media type its extension names (the router skips Gemini for a URL that names none).
fn media_parts(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({ "text": t }),
            Part::Image(i) => match &i.source {
                ImageSource::Base64 { media_type, data } => {
                    json!({ "inlineData": { "mimeType": media_type, "data": data } })
                }
                ImageSource::Url { url } => json!({ "fileData": {
                    "mimeType": ImageSource::url_media_type(url).unwrap_or("image/jpeg"),
                    "fileUri": url,
                } }),
            },
        })
        .collect()
}

/// The `functionCall` parts of the first candidate. Gemini gives no call ids (or an
/// optional `id`); missing ones are made from the response id and the call's position.
fn candidate_calls(body: &Value, first: usize) -> Vec<ToolCall> {
    let seed = body["responseId"].as_str().unwrap_or("gemini");
    body.at("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("functionCall"))
        .enumerate()
        .map(|(i, c)| {
            let id = c["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| synth_call_id(seed, first + i));
            let args = c.get("args").cloned().unwrap_or_else(|| json!({}));
            ToolCall::new(id, c["name"].as_str().unwrap_or_default(), args)
        })
        .collect()
}

/// The text of the first candidate.
fn candidate_text(body: &Value) -> String {
    body.at("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p["thought"] != true)
                .filter_map(|p| p["text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The finish reason of the first candidate, or `SAFETY`-like when the prompt was blocked.
fn candidate_finish(body: &Value) -> Option<FinishReason> {
    if let Some(r) = body
        .at("/candidates/0/finishReason")
        .and_then(Value::as_str)
    {
        return Some(finish_reason(r));
    }
    body.at("/promptFeedback/blockReason")
        .is_some()
        .then_some(FinishReason::ContentFilter)
}

fn usage(body: &Value) -> (Option<u64>, Option<u64>) {
    (
        u64_at(body, "/usageMetadata/promptTokenCount"),
        u64_at(body, "/usageMetadata/candidatesTokenCount"),
    )
}

/// The kind of a Google RPC status inside a 200 stream.
fn status_kind(status: &str) -> ErrorKind {
    match status {
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "UNAVAILABLE" => ErrorKind::Overloaded,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" => ErrorKind::InvalidRequest,
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ErrorKind::Auth,
        "NOT_FOUND" => ErrorKind::NotFound,
        _ => ErrorKind::Server,
    }
}

impl Wire for Gemini {
    const NAME: &'static str = "gemini";
    const FRAMING: Framing = Framing::Sse;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest {
        let mut body = json!({ "contents": contents(req) });
        if !req.tools.is_empty() {
            let declarations: Vec<Value> = req
                .tools
                .iter()
                .map(|t| json!({ "name": t.name, "description": t.description, "parameters": t.parameters }))
                .collect();
            body["tools"] = json!([{ "functionDeclarations": declarations }]);
            let config = match &req.tool_choice {
                ToolChoice::Auto => None,
                ToolChoice::None => Some(json!({ "mode": "NONE" })),
                ToolChoice::Required => Some(json!({ "mode": "ANY" })),
                ToolChoice::Tool(name) => {
                    Some(json!({ "mode": "ANY", "allowedFunctionNames": [name] }))
                }
            };
            if let Some(c) = config {
                body["toolConfig"] = json!({ "functionCallingConfig": c });
            }
        }
        if let Some(system) = req.system_prompt() {
            body["systemInstruction"] = json!({ "parts": [{ "text": system }] });
        }
        let mut config = serde_json::Map::new();
        if let Some(n) = req.max_tokens {
            config.insert("maxOutputTokens".into(), json!(n));
        }
        if let Some(t) = req.temperature {
            config.insert("temperature".into(), json!(t));
        }
        if !req.stop.is_empty() {
            config.insert("stopSequences".into(), json!(req.stop));
        }
        if let Some(seed) = req.seed {
            config.insert("seed".into(), json!(seed));
        }
        // JSON mode is the JSON media type; a schema goes as JSON Schema
        // (`responseJsonSchema`: `responseSchema`, an OpenAPI subset, refuses what OpenAI's
        // strict schemas hold, such as `additionalProperties`). Gemini always keeps to it.
        match &req.response_format {
            None => {}
            Some(ResponseFormat::JsonObject) => {
                config.insert("responseMimeType".into(), json!("application/json"));
            }
            Some(ResponseFormat::JsonSchema { schema, .. }) => {
                config.insert("responseMimeType".into(), json!("application/json"));
                config.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        if !config.is_empty() {
            body["generationConfig"] = Value::Object(config);
        }
        let model = model.strip_prefix("models/").unwrap_or(model);
        let method = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        WireRequest {
            url: format!("{}/v1beta/models/{model}:{method}", ep.base_url),
            headers: vec![("x-goog-api-key", ep.key().to_owned())],
            body,
        }
    }

    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError> {
        if body.get("candidates").is_none() && body.get("promptFeedback").is_none() {
            return Err(UpstreamError::malformed(Self::NAME, "no `candidates`"));
        }
        let (input, output) = usage(body);
        let tool_calls = candidate_calls(body, 0);
        let mut finish = candidate_finish(body).unwrap_or(FinishReason::Stop);
        if !tool_calls.is_empty() && finish == FinishReason::Stop {
            finish = FinishReason::ToolCalls;
        }
        Ok(ChatResponse {
            id: body["responseId"].as_str().unwrap_or_default().to_owned(),
            provider: Self::NAME.into(),
            model: body["modelVersion"].as_str().unwrap_or(model).to_owned(),
            content: candidate_text(body),
            tool_calls,
            finish_reason: finish,
            usage: Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
            },
        })
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(Decoder {
            finished: false,
            calls: 0,
        })
    }
}

impl ErrorHints for Gemini {
    fn context_length(
        &self,
        status: u16,
        message: &str,
        _body: Option<&Value>,
    ) -> Option<ContextInfo> {
        (status == 400 && message.contains("exceeds the maximum number of tokens")).then(|| {
            ContextInfo {
                requested: number_after(message, "input token count"),
                limit: number_after(message, "tokens allowed"),
            }
        })
    }

    fn reclassify(&self, _status: u16, body: Option<&Value>) -> Option<ErrorKind> {
        let body = body?;
        let body = body.as_array().and_then(|a| a.first()).unwrap_or(body);
        let invalid_key = body
            .at("/error/details")
            .and_then(Value::as_array)
            .is_some_and(|details| details.iter().any(|d| d["reason"] == "API_KEY_INVALID"));
        invalid_key.then_some(ErrorKind::Auth)
    }

    fn retry_delay(&self, body: &Value) -> Option<Duration> {
        let body = body.as_array().and_then(|a| a.first()).unwrap_or(body);
        body.at("/error/details")?
            .as_array()?
            .iter()
            .filter(|d| {
                d["@type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
            })
            .find_map(|d| d["retryDelay"].as_str())
            .and_then(|s| s.trim_end_matches('s').parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
    }
}

struct Decoder {
    finished: bool,
    calls: usize,
}

impl StreamDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
        let chunk = frame_json(Gemini::NAME, frame.data())?;
        let chunk = chunk
            .as_array()
            .and_then(|a| a.first())
            .unwrap_or(&chunk)
            .clone();
        if chunk.get("error").is_some() {
            let status = chunk
                .at("/error/status")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let message = error_message(&chunk).unwrap_or_else(|| status.to_owned());
            return Err(UpstreamError::new(
                Gemini::NAME,
                status_kind(status),
                message,
            ));
        }
        st.delta(&candidate_text(&chunk));
        for call in candidate_calls(&chunk, self.calls) {
            self.calls += 1;
            st.tool_call(call);
        }
        let (input, output) = usage(&chunk);
        st.usage(input, output);
        if let Some(reason) = candidate_finish(&chunk) {
            st.finish(if self.calls > 0 && reason == FinishReason::Stop {
                FinishReason::ToolCalls
            } else {
                reason
            });
            self.finished = true;
        }
        Ok(Step::Continue)
    }

    fn end(&mut self, _st: &mut StreamState) -> Result<Step, UpstreamError> {
        Ok(if self.finished {
            Step::Done
        } else {
            Step::Continue
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_token_count_numbers() {
        let c = Gemini
            .context_length(400, "The input token count (3475108) exceeds the maximum number of tokens allowed (1048576).", None)
            .unwrap();
        assert_eq!((c.requested, c.limit), (Some(3475108), Some(1048576)));
    }

    #[test]
    fn retry_info_in_the_body() {
        let body = json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
        ]}});
        assert_eq!(Gemini.retry_delay(&body), Some(Duration::from_secs(37)));
    }

    #[test]
    fn url_roles_and_system_instruction() {
        let req = ChatRequest::new(
            "x",
            vec![
                crate::types::Message::system("sys"),
                crate::types::Message::user("hi"),
                crate::types::Message::new(Role::Assistant, "yo"),
            ],
        );
        let w = Gemini.request(
            &Endpoint::new("http://h", Some("k".into())),
            "models/gemini-2.0-flash",
            &req,
            true,
        );
        assert_eq!(
            w.url,
            "http://h/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(w.body["systemInstruction"]["parts"][0]["text"], "sys");
        assert_eq!(w.body["contents"][1]["role"], "model");
        assert!(w.body.get("generationConfig").is_none());
    }

    #[tokio::test]
    async fn streamed_whole_tool_calls_become_tool_call_events() {
        let events = crate::providers::decode_all(&Gemini, "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"sales_total\", \"args\": {\"days\": 7}}}], \"role\": \"model\"}, \"finishReason\": \"STOP\"}], \"usageMetadata\": {\"promptTokenCount\": 61, \"candidatesTokenCount\": 6}, \"responseId\": \"r1\"}\r\n\r\n").await;
        assert_eq!(
            events[0],
            crate::types::StreamEvent::ToolCall(ToolCall::new(
                "call_r1_0",
                "sales_total",
                json!({"days": 7})
            ))
        );
        assert_eq!(
            events.last(),
            Some(&crate::types::StreamEvent::Finish(FinishReason::ToolCalls))
        );
    }
}
