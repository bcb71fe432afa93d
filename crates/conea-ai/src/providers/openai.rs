//! OpenAI Chat Completions: `POST {base}/chat/completions` (the base includes `/v1`, as in
//! OpenAI's SDKs' `OPENAI_BASE_URL`), `Authorization: Bearer`. Streaming is SSE of
//! `chat.completion.chunk` objects ending with `data: [DONE]`; with
//! `stream_options.include_usage` a last chunk with empty `choices` carries the usage.
//! A context overflow is a 400 with `code: context_length_exceeded` and "This model's
//! maximum context length is N tokens. However, you requested M tokens …".

use super::util::{frame_json, str_at, synth_call_id, u64_at, JsonPath};
use super::{Endpoint, Wire};
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::http::classify::{error_message, number_after};
use crate::http::{ErrorHints, Frame, Framing, Step, StreamDecoder, StreamState, WireRequest};
use crate::types::{
    ChatRequest, ChatResponse, FinishReason, Message, Part, ResponseFormat, Role, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAi;

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// One message in OpenAI's shape (also Cohere v2's, which copies it).
pub(crate) fn message(m: &Message) -> Value {
    match m.role {
        Role::Tool => json!({ "role": "tool", "tool_call_id": m.call_id(), "content": m.content }),
        Role::Assistant if !m.tool_calls.is_empty() => {
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            json!({ "role": "assistant", "content": content, "tool_calls": wire_calls(&m.tool_calls) })
        }
        r if !m.parts.is_empty() => json!({ "role": role(r), "content": content_parts(m) }),
        r => json!({ "role": role(r), "content": m.content }),
    }
}

/// Text and images as OpenAI content parts (`text`, `image_url` with the URL — a `data:`
/// URL for inline bytes — and `detail` when given); also Cohere v2's user content.
pub(crate) fn content_parts(m: &Message) -> Value {
    m.parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({ "type": "text", "text": t }),
            Part::Image(i) => {
                let mut image_url = json!({ "url": i.source.as_url() });
                if let Some(d) = &i.detail {
                    image_url["detail"] = json!(d);
                }
                json!({ "type": "image_url", "image_url": image_url })
            }
        })
        .collect()
}

/// `response_format` in OpenAI's shape (Cohere v2 has its own).
fn response_format(f: &ResponseFormat) -> Value {
    match f {
        ResponseFormat::JsonObject => json!({ "type": "json_object" }),
        ResponseFormat::JsonSchema {
            name,
            description,
            schema,
            strict,
        } => {
            let mut spec = json!({ "name": name, "schema": schema });
            if let Some(d) = description {
                spec["description"] = json!(d);
            }
            if let Some(s) = strict {
                spec["strict"] = json!(s);
            }
            json!({ "type": "json_schema", "json_schema": spec })
        }
    }
}

/// Tool calls as `[{id, type: function, function: {name, arguments: "<json text>"}}]`.
pub(crate) fn wire_calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments_text() } }))
        .collect()
}

/// Tools as `[{type: function, function: {name, description, parameters}}]`.
pub(crate) fn function_tools<'a>(tools: impl IntoIterator<Item = &'a ToolSpec>) -> Value {
    tools
        .into_iter()
        .map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } }))
        .collect()
}

/// Reads `[{id, function: {name, arguments: "<json text>"}}]`.
pub(crate) fn read_calls(calls: &Value) -> Vec<ToolCall> {
    calls
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let name = c
                .at("/function/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = c["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| synth_call_id(name, i));
            let args = match c.at("/function/arguments") {
                Some(Value::String(s)) => ToolCall::parse_arguments(s),
                Some(v) => v.clone(),
                None => json!({}),
            };
            ToolCall::new(id, name, args)
        })
        .collect()
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        _ => FinishReason::Other,
    }
}

impl Wire for OpenAi {
    const NAME: &'static str = "openai";
    const FRAMING: Framing = Framing::Sse;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest {
        let messages: Vec<Value> = req.messages.iter().map(message).collect();
        let mut body = json!({ "model": model, "messages": messages, "stream": stream });
        if !req.tools.is_empty() {
            body["tools"] = function_tools(&req.tools);
            match &req.tool_choice {
                ToolChoice::Auto => {}
                ToolChoice::None => body["tool_choice"] = json!("none"),
                ToolChoice::Required => body["tool_choice"] = json!("required"),
                ToolChoice::Tool(name) => {
                    body["tool_choice"] =
                        json!({ "type": "function", "function": { "name": name } })
                }
            }
        }
        if let Some(n) = req.max_tokens {
            body["max_completion_tokens"] = json!(n);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(f) = &req.response_format {
            body["response_format"] = response_format(f);
        }
        if !req.stop.is_empty() {
            body["stop"] = json!(req.stop);
        }
        if let Some(seed) = req.seed {
            body["seed"] = json!(seed);
        }
        if let Some(user) = &req.user {
            body["user"] = json!(user);
        }
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        WireRequest {
            url: format!("{}/chat/completions", ep.base_url),
            headers: vec![("authorization", format!("Bearer {}", ep.key()))],
            body,
        }
    }

    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError> {
        let choice = body
            .at("/choices/0")
            .ok_or_else(|| UpstreamError::malformed(Self::NAME, "no `choices`"))?;
        Ok(ChatResponse {
            id: str_at(Self::NAME, body, "/id")?.to_owned(),
            provider: Self::NAME.into(),
            model: body["model"].as_str().unwrap_or(model).to_owned(),
            content: choice["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            tool_calls: read_calls(&choice["message"]["tool_calls"]),
            finish_reason: finish_reason(choice["finish_reason"].as_str().unwrap_or("stop")),
            usage: Usage {
                input_tokens: u64_at(body, "/usage/prompt_tokens").unwrap_or(0),
                output_tokens: u64_at(body, "/usage/completion_tokens").unwrap_or(0),
            },
        })
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(Decoder::default())
    }
}

impl ErrorHints for OpenAi {
    fn context_length(
        &self,
        status: u16,
        message: &str,
        body: Option<&Value>,
    ) -> Option<ContextInfo> {
        let code = body
            .and_then(|b| b.at("/error/code"))
            .and_then(Value::as_str);
        let matches = code == Some("context_length_exceeded")
            || message.contains("maximum context length")
            || message.contains("exceeds the context window");
        if status != 400 || !matches {
            return None;
        }
        Some(ContextInfo {
            limit: number_after(message, "maximum context length is "),
            requested: number_after(message, "you requested ")
                .or_else(|| number_after(message, "resulted in ")),
        })
    }
}

/// Accumulates `delta.tool_calls` pieces by index; the calls are emitted whole when the
/// choice finishes.
#[derive(Default)]
struct Decoder {
    calls: Vec<(String, String, String)>,
}

impl StreamDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
        let data = frame.data();
        if data.trim() == "[DONE]" {
            return Ok(Step::Done);
        }
        let chunk = frame_json(OpenAi::NAME, data)?;
        if chunk.get("error").is_some() {
            let message = error_message(&chunk).unwrap_or_else(|| "stream error".into());
            let kind = match chunk.at("/error/type").and_then(Value::as_str) {
                Some("rate_limit_exceeded" | "rate_limit_error") => ErrorKind::RateLimited,
                Some("invalid_request_error") => ErrorKind::InvalidRequest,
                _ => ErrorKind::Server,
            };
            return Err(UpstreamError::new(OpenAi::NAME, kind, message));
        }
        if let Some(choice) = chunk.at("/choices/0") {
            if let Some(text) = choice.at("/delta/content").and_then(Value::as_str) {
                st.delta(text);
            }
            for piece in choice
                .at("/delta/tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = piece["index"].as_u64().unwrap_or(0) as usize;
                if self.calls.len() <= index {
                    self.calls.resize(index + 1, Default::default());
                }
                let call = &mut self.calls[index];
                if let Some(id) = piece["id"].as_str() {
                    call.0 = id.to_owned();
                }
                if let Some(name) = piece.at("/function/name").and_then(Value::as_str) {
                    call.1.push_str(name);
                }
                if let Some(args) = piece.at("/function/arguments").and_then(Value::as_str) {
                    call.2.push_str(args);
                }
            }
            if let Some(r) = choice["finish_reason"].as_str() {
                for (i, (id, name, args)) in std::mem::take(&mut self.calls).into_iter().enumerate()
                {
                    let id = if id.is_empty() {
                        synth_call_id(&name, i)
                    } else {
                        id
                    };
                    st.tool_call(ToolCall::new(id, name, ToolCall::parse_arguments(&args)));
                }
                st.finish(finish_reason(r));
            }
        }
        if chunk["usage"].is_object() {
            st.usage(
                u64_at(&chunk, "/usage/prompt_tokens"),
                u64_at(&chunk, "/usage/completion_tokens"),
            );
        }
        Ok(Step::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_message_numbers_are_read() {
        let body = json!({"error": {"message": "This model's maximum context length is 4097 tokens. However, you requested 4120 tokens (3120 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}});
        let msg = error_message(&body).unwrap();
        let c = OpenAi.context_length(400, &msg, Some(&body)).unwrap();
        assert_eq!((c.limit, c.requested), (Some(4097), Some(4120)));

        let msg = "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.";
        let c = OpenAi.context_length(400, msg, None).unwrap();
        assert_eq!((c.limit, c.requested), (Some(8192), Some(8227)));
    }

    #[test]
    fn other_400s_are_not_context_errors() {
        assert!(OpenAi
            .context_length(400, "Invalid value for 'temperature'", None)
            .is_none());
    }

    #[test]
    fn request_body_and_headers() {
        let mut req = ChatRequest::new(
            "x",
            vec![
                crate::types::Message::system("be brief"),
                crate::types::Message::user("hi"),
            ],
        );
        req.max_tokens = Some(5);
        let w = OpenAi.request(
            &Endpoint::new("http://h/v1/", Some("sk-1".into())),
            "gpt-4o-mini",
            &req,
            true,
        );
        assert_eq!(w.url, "http://h/v1/chat/completions");
        assert_eq!(w.headers, vec![("authorization", "Bearer sk-1".to_owned())]);
        assert_eq!(w.body["messages"][0]["role"], "system");
        assert_eq!(w.body["max_completion_tokens"], 5);
        assert_eq!(w.body["stream_options"]["include_usage"], true);
    }

    #[tokio::test]
    async fn streamed_tool_call_pieces_become_one_tool_call_event() {
        let events = crate::providers::decode_all(
            &OpenAi,
            include_str!("../../tests/fixtures/openai/tool_stream.sse"),
        )
        .await;
        let calls: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                crate::types::StreamEvent::ToolCall(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            vec![ToolCall::new(
                "call_abc123",
                "sales_total",
                json!({"days": 7})
            )]
        );
        assert_eq!(
            events.last(),
            Some(&crate::types::StreamEvent::Finish(FinishReason::ToolCalls))
        );
    }
}
