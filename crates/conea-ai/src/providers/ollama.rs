//! Ollama: `POST {base}/api/chat` (default `http://127.0.0.1:11434`), no key (a key, if
//! configured for a proxy in front, is sent as a bearer token). Streaming is NDJSON: one
//! object per line with `message.content`, the last with `done: true`, `done_reason` and the
//! counts `prompt_eval_count` / `eval_count`. Errors are `{"error": "…"}`, also as a line
//! inside a 200 stream.

use super::util::{arguments_object, frame_json, synth_call_id, u64_at, JsonPath};
use super::{Endpoint, Wire};
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::http::classify::{error_message, number_after};
use crate::http::{ErrorHints, Frame, Framing, Step, StreamDecoder, StreamState, WireRequest};
use crate::types::{
    ChatRequest, ChatResponse, FinishReason, ImageSource, ResponseFormat, Role, ToolCall, Usage,
};
use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:11434";

pub struct Ollama;

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

/// `message.tool_calls[].function.{name, arguments}` (arguments an object; ids made up
/// from `created_at` when Ollama sends none).
fn read_calls(body: &Value) -> Vec<ToolCall> {
    let seed = body["created_at"].as_str().unwrap_or_default();
    body.at("/message/tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let id = c["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| synth_call_id(seed, i));
            let name = c
                .at("/function/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let args = c
                .at("/function/arguments")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let args = match args {
                Value::String(s) => ToolCall::parse_arguments(&s),
                v => v,
            };
            ToolCall::new(id, name, args)
        })
        .collect()
}

fn counts(v: &Value) -> (Option<u64>, Option<u64>) {
    (u64_at(v, "/prompt_eval_count"), u64_at(v, "/eval_count"))
}

impl Wire for Ollama {
    const NAME: &'static str = "ollama";
    const FRAMING: Framing = Framing::Ndjson;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| match m.role {
                Role::Assistant if !m.tool_calls.is_empty() => {
                    let calls: Vec<Value> = m
                        .tool_calls
                        .iter()
                        .map(|c| json!({ "function": { "name": c.name, "arguments": arguments_object(&c.arguments) } }))
                        .collect();
                    json!({ "role": "assistant", "content": m.content, "tool_calls": calls })
                }
                Role::Tool => json!({ "role": "tool", "content": m.content, "tool_name": m.tool_name() }),
                r if !m.parts.is_empty() => {
                    // the text, and the images inline (the router skips Ollama for URLs)
                    let images: Vec<&str> = m
                        .images()
                        .filter_map(|i| match &i.source {
                            ImageSource::Base64 { data, .. } => Some(data.as_str()),
                            ImageSource::Url { .. } => None,
                        })
                        .collect();
                    json!({ "role": role(r), "content": m.content, "images": images })
                }
                r => json!({ "role": role(r), "content": m.content }),
            })
            .collect();
        let mut body = json!({ "model": model, "messages": messages, "stream": stream });
        // Ollama has no `tool_choice`: `none` offers no tools, a named tool only that one.
        let tools = req.offered_tools();
        if !tools.is_empty() {
            body["tools"] = super::openai::function_tools(tools);
        }
        let mut options = serde_json::Map::new();
        if let Some(n) = req.max_tokens {
            options.insert("num_predict".into(), json!(n));
        }
        if let Some(t) = req.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if !req.stop.is_empty() {
            options.insert("stop".into(), json!(req.stop));
        }
        if let Some(seed) = req.seed {
            options.insert("seed".into(), json!(seed));
        }
        match &req.response_format {
            None => {}
            Some(ResponseFormat::JsonObject) => body["format"] = json!("json"),
            Some(ResponseFormat::JsonSchema { schema, .. }) => body["format"] = schema.clone(),
        }
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
        let headers = match &ep.api_key {
            Some(k) if !k.is_empty() => vec![("authorization", format!("Bearer {k}"))],
            _ => vec![],
        };
        WireRequest {
            url: format!("{}/api/chat", ep.base_url),
            headers,
            body,
        }
    }

    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError> {
        let content = body
            .at("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::malformed(Self::NAME, "no `message.content`"))?;
        let (input, output) = counts(body);
        let tool_calls = read_calls(body);
        let mut finish = finish_reason(body["done_reason"].as_str().unwrap_or("stop"));
        if !tool_calls.is_empty() && finish == FinishReason::Stop {
            finish = FinishReason::ToolCalls;
        }
        Ok(ChatResponse {
            id: format!("ollama-{}", body["created_at"].as_str().unwrap_or_default()),
            provider: Self::NAME.into(),
            model: body["model"].as_str().unwrap_or(model).to_owned(),
            content: content.to_owned(),
            tool_calls,
            finish_reason: finish,
            usage: Usage {
                input_tokens: input.unwrap_or(0),
                output_tokens: output.unwrap_or(0),
            },
        })
    }

    fn decoder(&self) -> Box<dyn StreamDecoder> {
        Box::new(Decoder::default())
    }
}

impl ErrorHints for Ollama {
    fn context_length(
        &self,
        _status: u16,
        message: &str,
        _body: Option<&Value>,
    ) -> Option<ContextInfo> {
        let m = message.to_ascii_lowercase();
        let mentions_context = m.contains("context length")
            || m.contains("context window")
            || m.contains("context size");
        let overflow = m.contains("exceed") || m.contains("too long") || m.contains("too large");
        (mentions_context && overflow).then(|| ContextInfo {
            limit: number_after(&m, "context length (")
                .or_else(|| number_after(&m, "context length of ")),
            requested: number_after(&m, "input length (")
                .or_else(|| number_after(&m, "prompt length (")),
        })
    }
}

#[derive(Default)]
struct Decoder {
    calls: usize,
}

impl StreamDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
        let line = frame_json(Ollama::NAME, frame.data())?;
        if line.get("error").is_some() {
            let message = error_message(&line).unwrap_or_else(|| "stream error".into());
            let mut err = UpstreamError::new(Ollama::NAME, ErrorKind::Server, message);
            if let Some(c) = Ollama.context_length(500, &err.message, Some(&line)) {
                err.kind = ErrorKind::ContextLength;
                err.context = Some(c);
            }
            return Err(err);
        }
        st.delta(
            line.at("/message/content")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        for call in read_calls(&line) {
            self.calls += 1;
            st.tool_call(call);
        }
        if line["done"] == true {
            let (input, output) = counts(&line);
            st.usage(input, output);
            let finish = finish_reason(line["done_reason"].as_str().unwrap_or("stop"));
            st.finish(if self.calls > 0 && finish == FinishReason::Stop {
                FinishReason::ToolCalls
            } else {
                finish
            });
            return Ok(Step::Done);
        }
        Ok(Step::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_messages_are_recognised() {
        assert!(Ollama
            .context_length(400, "the input length exceeds the context length", None)
            .is_some());
        let c = Ollama
            .context_length(
                500,
                "input length (9000) exceeds context length (8192)",
                None,
            )
            .unwrap();
        assert_eq!((c.requested, c.limit), (Some(9000), Some(8192)));
        assert!(Ollama
            .context_length(
                404,
                "model \"llama3\" not found, try pulling it first",
                None
            )
            .is_none());
    }

    #[test]
    fn no_key_means_no_auth_header() {
        let req = ChatRequest::new("x", vec![crate::types::Message::user("hi")]);
        let w = Ollama.request(
            &Endpoint::new(DEFAULT_BASE_URL, None),
            "llama3.2",
            &req,
            false,
        );
        assert!(w.headers.is_empty());
        assert_eq!(w.url, "http://127.0.0.1:11434/api/chat");
        assert_eq!(w.body["stream"], false);
    }

    #[tokio::test]
    async fn streamed_whole_tool_calls_become_tool_call_events() {
        let events = crate::providers::decode_all(&Ollama, "{\"model\":\"llama3.2\",\"created_at\":\"2025-07-07T20:32:53Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"sales_total\",\"arguments\":{\"days\":7}}}]},\"done\":false}\n{\"model\":\"llama3.2\",\"created_at\":\"2025-07-07T20:32:54Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":169,\"eval_count\":22}\n").await;
        assert_eq!(
            events[0],
            crate::types::StreamEvent::ToolCall(ToolCall::new(
                "call_2025-07-07T20_32_53Z_0",
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
