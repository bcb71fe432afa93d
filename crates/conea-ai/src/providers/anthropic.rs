//! Anthropic Messages: `POST {base}/v1/messages` with `x-api-key` and `anthropic-version`.
//! The system prompt is a top-level `system` field and `max_tokens` is required. Streaming
//! is SSE: `message_start` (input tokens), `content_block_delta` (`text_delta`),
//! `message_delta` (stop reason, cumulative output tokens), `message_stop`; `ping`s in
//! between, and `event: error` (e.g. `overloaded_error`) may arrive after a 200. A context
//! overflow is a 400 `invalid_request_error` "prompt is too long: N tokens > M maximum".

use super::util::{arguments_object, frame_json, str_at, u64_at, JsonPath};
use super::{Endpoint, Wire};
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::http::classify::{error_message, leading_number, number_after};
use crate::http::{ErrorHints, Frame, Framing, Step, StreamDecoder, StreamState, WireRequest};
use crate::types::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, Part, Role, ToolCall, ToolChoice, Usage,
};
use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; used when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

pub struct Anthropic;

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// The conversation as Messages turns: assistant tool calls become `tool_use` blocks,
/// and consecutive tool results one user turn of `tool_result` blocks.
fn turns(req: &ChatRequest) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for m in req.turns() {
        if m.role == Role::Tool {
            results.push(
                json!({ "type": "tool_result", "tool_use_id": m.call_id(), "content": m.content }),
            );
            continue;
        }
        if !results.is_empty() {
            out.push(json!({ "role": "user", "content": std::mem::take(&mut results) }));
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let mut blocks = Vec::new();
            if !m.content.is_empty() {
                blocks.push(json!({ "type": "text", "text": m.content }));
            }
            for c in &m.tool_calls {
                blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(&c.arguments) }));
            }
            out.push(json!({ "role": "assistant", "content": blocks }));
        } else if !m.parts.is_empty() {
            out.push(json!({ "role": "user", "content": content_blocks(&m.parts) }));
        } else {
            let role = if m.role == Role::Assistant {
                "assistant"
            } else {
                "user"
            };
            out.push(json!({ "role": role, "content": m.content }));
        }
    }
    if !results.is_empty() {
        out.push(json!({ "role": "user", "content": results }));
    }
    out
}

/// Text and images as `text` and `image` blocks (source `base64` or `url`).
fn content_blocks(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => json!({ "type": "text", "text": t }),
            Part::Image(i) => {
                let source = match &i.source {
                    ImageSource::Base64 { media_type, data } => {
                        json!({ "type": "base64", "media_type": media_type, "data": data })
                    }
                    ImageSource::Url { url } => json!({ "type": "url", "url": url }),
                };
                json!({ "type": "image", "source": source })
            }
        })
        .collect()
}

/// The kind of an Anthropic `error.type` (in an `event: error` after a 200).
fn error_kind(error_type: &str) -> ErrorKind {
    match error_type {
        "overloaded_error" => ErrorKind::Overloaded,
        "rate_limit_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::Server,
        "timeout_error" => ErrorKind::Timeout,
        "invalid_request_error" | "request_too_large" => ErrorKind::InvalidRequest,
        "authentication_error" | "permission_error" => ErrorKind::Auth,
        "not_found_error" => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    }
}

impl Wire for Anthropic {
    const NAME: &'static str = "anthropic";
    const FRAMING: Framing = Framing::Sse;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest {
        let messages = turns(req);
        let mut body = json!({
            "model": model,
            "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
        });
        if let Some(system) = req.system_prompt() {
            body["system"] = json!(system);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if !req.stop.is_empty() {
            body["stop_sequences"] = json!(req.stop);
        }
        if let Some(user) = &req.user {
            body["metadata"] = json!({ "user_id": user });
        }
        if !req.tools.is_empty() {
            let tools: Vec<Value> = req
                .tools
                .iter()
                .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
                .collect();
            body["tools"] = json!(tools);
            match &req.tool_choice {
                ToolChoice::Auto => {}
                ToolChoice::None => body["tool_choice"] = json!({ "type": "none" }),
                ToolChoice::Required => body["tool_choice"] = json!({ "type": "any" }),
                ToolChoice::Tool(name) => {
                    body["tool_choice"] = json!({ "type": "tool", "name": name })
                }
            }
        }
        if stream {
            body["stream"] = json!(true);
        }
        WireRequest {
            url: format!("{}/v1/messages", ep.base_url),
            headers: vec![
                ("x-api-key", ep.key().to_owned()),
                ("anthropic-version", API_VERSION.to_owned()),
            ],
            body,
        }
    }

    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError> {
        let blocks = body["content"]
            .as_array()
            .ok_or_else(|| UpstreamError::malformed(Self::NAME, "no `content`"))?;
        let tool_calls = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| {
                ToolCall::new(
                    b["id"].as_str().unwrap_or_default(),
                    b["name"].as_str().unwrap_or_default(),
                    b["input"].clone(),
                )
            })
            .collect();
        let content = blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<String>();
        Ok(ChatResponse {
            id: str_at(Self::NAME, body, "/id")?.to_owned(),
            provider: Self::NAME.into(),
            model: body["model"].as_str().unwrap_or(model).to_owned(),
            content,
            tool_calls,
            finish_reason: finish_reason(body["stop_reason"].as_str().unwrap_or("end_turn")),
            usage: Usage {
                input_tokens: u64_at(body, "/usage/input_tokens").unwrap_or(0),
                output_tokens: u64_at(body, "/usage/output_tokens").unwrap_or(0),
            },
        })
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(Decoder::default())
    }
}

impl ErrorHints for Anthropic {
    fn context_length(
        &self,
        status: u16,
        message: &str,
        _body: Option<&Value>,
    ) -> Option<ContextInfo> {
        if status != 400 {
            return None;
        }
        if message.contains("prompt is too long") {
            // "prompt is too long: 213462 tokens > 200000 maximum"
            return Some(ContextInfo {
                requested: number_after(message, "prompt is too long:"),
                limit: number_after(message, "> "),
            });
        }
        if message.contains("exceed context limit") {
            // "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000, …"
            let input = number_after(message, "context limit:");
            let output = number_after(message, "+ ");
            return Some(ContextInfo {
                requested: input.zip(output).map(|(a, b)| a + b),
                limit: message
                    .rfind("> ")
                    .and_then(|i| leading_number(&message[i + 2..])),
            });
        }
        None
    }
}

/// The `tool_use` block being streamed: id, name, `input_json_delta` text so far.
#[derive(Default)]
struct Decoder {
    tool: Option<(String, String, String)>,
}

impl StreamDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
        let event = frame_json(Anthropic::NAME, frame.data())?;
        let kind = event["type"].as_str().or(frame.event()).unwrap_or_default();
        match kind {
            "message_start" => st.usage(
                u64_at(&event, "/message/usage/input_tokens"),
                u64_at(&event, "/message/usage/output_tokens"),
            ),
            "content_block_delta"
                if event.at("/delta/type").and_then(Value::as_str) == Some("text_delta") =>
            {
                st.delta(
                    event
                        .at("/delta/text")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
            "content_block_start"
                if event.at("/content_block/type").and_then(Value::as_str) == Some("tool_use") =>
            {
                let block = &event["content_block"];
                self.tool = Some((
                    block["id"].as_str().unwrap_or_default().to_owned(),
                    block["name"].as_str().unwrap_or_default().to_owned(),
                    String::new(),
                ));
            }
            "content_block_delta"
                if event.at("/delta/type").and_then(Value::as_str) == Some("input_json_delta") =>
            {
                if let Some((_, _, json)) = &mut self.tool {
                    json.push_str(
                        event
                            .at("/delta/partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    );
                }
            }
            "content_block_stop" => {
                if let Some((id, name, json)) = self.tool.take() {
                    st.tool_call(ToolCall::new(id, name, ToolCall::parse_arguments(&json)));
                }
            }
            "message_delta" => {
                if let Some(r) = event.at("/delta/stop_reason").and_then(Value::as_str) {
                    st.finish(finish_reason(r));
                }
                st.usage(
                    u64_at(&event, "/usage/input_tokens"),
                    u64_at(&event, "/usage/output_tokens"),
                );
            }
            "message_stop" => return Ok(Step::Done),
            "error" => {
                let error_type = event
                    .at("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let message = error_message(&event).unwrap_or_else(|| error_type.to_owned());
                return Err(UpstreamError::new(
                    Anthropic::NAME,
                    error_kind(error_type),
                    message,
                ));
            }
            _ => {} // ping, content_block_start, content_block_stop, future events
        }
        Ok(Step::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_too_long_numbers() {
        let c = Anthropic
            .context_length(
                400,
                "prompt is too long: 213462 tokens > 200000 maximum",
                None,
            )
            .unwrap();
        assert_eq!((c.requested, c.limit), (Some(213462), Some(200000)));
    }

    #[test]
    fn input_plus_max_tokens_numbers() {
        let c = Anthropic
            .context_length(
                400,
                "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000, decrease input length or `max_tokens` and try again",
                None,
            )
            .unwrap();
        assert_eq!((c.requested, c.limit), (Some(206192), Some(200000)));
    }

    #[test]
    fn max_tokens_too_large_is_not_a_context_error() {
        assert!(Anthropic
            .context_length(400, "max_tokens: 10000 > 4096, which is the maximum allowed number of output tokens for claude-3-opus-20240229", None)
            .is_none());
    }

    #[test]
    fn system_prompt_is_top_level_and_max_tokens_defaults() {
        let req = ChatRequest::new(
            "x",
            vec![
                crate::types::Message::system("be brief"),
                crate::types::Message::user("hi"),
            ],
        );
        let w = Anthropic.request(
            &Endpoint::new("http://h", Some("k".into())),
            "claude",
            &req,
            false,
        );
        assert_eq!(w.url, "http://h/v1/messages");
        assert_eq!(w.body["system"], "be brief");
        assert_eq!(w.body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(w.body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(w
            .headers
            .contains(&("anthropic-version", API_VERSION.to_owned())));
    }

    #[tokio::test]
    async fn streamed_tool_call_pieces_become_one_tool_call_event() {
        let events = crate::providers::decode_all(
            &Anthropic,
            include_str!("../../tests/fixtures/anthropic/tool_stream.sse"),
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
                "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
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
