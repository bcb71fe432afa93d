//! Cohere Chat v2: `POST {base}/v2/chat`, `Authorization: Bearer`. The answer is
//! `message.content[].text` with an upper-case `finish_reason` and `usage.tokens` /
//! `usage.billed_units`. Streaming is SSE of typed events: `message-start`,
//! `content-start`, `content-delta`, `content-end`, `message-end` (finish reason and usage).
//! Errors are `{"message": …}`; a context overflow is a 400 "too many tokens: total number
//! of tokens in the prompt cannot exceed N - received M".

use super::util::{frame_json, u64_at, JsonPath};
use super::{Endpoint, Wire};
use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use crate::http::classify::number_after;
use crate::http::{ErrorHints, Frame, Framing, Step, StreamDecoder, StreamState, WireRequest};
use crate::types::{
    ChatRequest, ChatResponse, FinishReason, ResponseFormat, Role, ToolCall, ToolChoice, Usage,
};
use serde_json::{json, Value};

pub const DEFAULT_BASE_URL: &str = "https://api.cohere.com";

pub struct Cohere;

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn finish_reason(s: &str) -> FinishReason {
    match s.to_ascii_uppercase().as_str() {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        _ => FinishReason::Other,
    }
}

/// `usage.tokens` (what the model read and wrote), else `usage.billed_units`.
fn usage(usage: &Value) -> (Option<u64>, Option<u64>) {
    let pick = |field: &str| {
        u64_at(usage, &format!("/tokens/{field}"))
            .or_else(|| u64_at(usage, &format!("/billed_units/{field}")))
    };
    (pick("input_tokens"), pick("output_tokens"))
}

/// `finish_reason: ERROR` is a failure, not an answer.
fn generation_error(reason: Option<&str>, error: Option<&str>) -> Option<UpstreamError> {
    (reason.map(str::to_ascii_uppercase).as_deref() == Some("ERROR")).then(|| {
        UpstreamError::new(
            Cohere::NAME,
            ErrorKind::Server,
            error.unwrap_or("generation failed (finish_reason ERROR)"),
        )
    })
}

impl Wire for Cohere {
    const NAME: &'static str = "cohere";
    const FRAMING: Framing = Framing::Sse;

    fn request(&self, ep: &Endpoint, model: &str, req: &ChatRequest, stream: bool) -> WireRequest {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| match m.role {
                Role::Assistant if !m.tool_calls.is_empty() => {
                    let mut msg = json!({ "role": "assistant", "tool_calls": super::openai::wire_calls(&m.tool_calls) });
                    if !m.content.is_empty() {
                        msg["tool_plan"] = json!(m.content);
                    }
                    msg
                }
                Role::Tool => json!({ "role": "tool", "tool_call_id": m.call_id(), "content": m.content }),
                r if !m.parts.is_empty() => json!({ "role": role(r), "content": super::openai::content_parts(m) }),
                r => json!({ "role": role(r), "content": m.content }),
            })
            .collect();
        let mut body = json!({ "model": model, "messages": messages, "stream": stream });
        // v2 `tool_choice` is REQUIRED or NONE; a named tool is REQUIRED with only that tool.
        let tools = match &req.tool_choice {
            ToolChoice::None => req.tools.iter().collect(),
            _ => req.offered_tools(),
        };
        if !tools.is_empty() {
            body["tools"] = super::openai::function_tools(tools);
            match &req.tool_choice {
                ToolChoice::Auto => {}
                ToolChoice::None => body["tool_choice"] = json!("NONE"),
                ToolChoice::Required | ToolChoice::Tool(_) => {
                    body["tool_choice"] = json!("REQUIRED")
                }
            }
        }
        if let Some(n) = req.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        // v2 JSON mode is `json_object`, with the schema (always enforced) in `json_schema`.
        match &req.response_format {
            None => {}
            Some(ResponseFormat::JsonObject) => {
                body["response_format"] = json!({ "type": "json_object" })
            }
            Some(ResponseFormat::JsonSchema { schema, .. }) => {
                body["response_format"] = json!({ "type": "json_object", "json_schema": schema })
            }
        }
        if !req.stop.is_empty() {
            body["stop_sequences"] = json!(req.stop);
        }
        if let Some(seed) = req.seed {
            body["seed"] = json!(seed);
        }
        WireRequest {
            url: format!("{}/v2/chat", ep.base_url),
            headers: vec![("authorization", format!("Bearer {}", ep.key()))],
            body,
        }
    }

    fn parse_response(&self, model: &str, body: &Value) -> Result<ChatResponse, UpstreamError> {
        let reason = body["finish_reason"].as_str();
        if let Some(e) = generation_error(reason, body["error"].as_str()) {
            return Err(e);
        }
        let content = body
            .at("/message/content")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .or_else(|| body["message"]["tool_calls"].is_array().then_some(&[][..]))
            .ok_or_else(|| UpstreamError::malformed(Self::NAME, "no `message.content`"))?
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<String>();
        let (input, output) = usage(&body["usage"]);
        Ok(ChatResponse {
            id: body["id"].as_str().unwrap_or_default().to_owned(),
            provider: Self::NAME.into(),
            model: model.to_owned(),
            content,
            tool_calls: super::openai::read_calls(&body["message"]["tool_calls"]),
            finish_reason: finish_reason(reason.unwrap_or("COMPLETE")),
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

impl ErrorHints for Cohere {
    fn context_length(
        &self,
        status: u16,
        message: &str,
        _body: Option<&Value>,
    ) -> Option<ContextInfo> {
        let m = message.to_ascii_lowercase();
        let is_context = matches!(status, 400 | 422)
            && m.contains("too many tokens")
            && !m.contains("max tokens must be");
        is_context.then(|| ContextInfo {
            limit: number_after(&m, "cannot exceed ").or_else(|| number_after(&m, "limit of ")),
            requested: number_after(&m, "received "),
        })
    }
}

/// The tool call being streamed (`tool-call-start` … `tool-call-end`): id, name, argument
/// text so far.
#[derive(Default)]
struct Decoder {
    tool: Option<(String, String, String)>,
}

impl StreamDecoder for Decoder {
    fn frame(&mut self, frame: &Frame, st: &mut StreamState) -> Result<Step, UpstreamError> {
        let event = frame_json(Cohere::NAME, frame.data())?;
        let kind = event["type"].as_str().or(frame.event()).unwrap_or_default();
        match kind {
            "content-delta" => st.delta(
                event
                    .at("/delta/message/content/text")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            "tool-call-start" => {
                let call = &event["delta"]["message"]["tool_calls"];
                self.tool = Some((
                    call["id"].as_str().unwrap_or_default().to_owned(),
                    call.at("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    call.at("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
            "tool-call-delta" => {
                if let Some((_, _, args)) = &mut self.tool {
                    args.push_str(
                        event
                            .at("/delta/message/tool_calls/function/arguments")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    );
                }
            }
            "tool-call-end" => {
                if let Some((id, name, args)) = self.tool.take() {
                    st.tool_call(ToolCall::new(id, name, ToolCall::parse_arguments(&args)));
                }
            }
            "message-end" => {
                let delta = &event["delta"];
                let reason = delta["finish_reason"].as_str();
                if let Some(e) = generation_error(reason, delta["error"].as_str()) {
                    return Err(e);
                }
                let (input, output) = usage(&delta["usage"]);
                st.usage(input, output);
                st.finish(finish_reason(reason.unwrap_or("COMPLETE")));
                return Ok(Step::Done);
            }
            _ => {} // message-start, content-start, content-end, tool and citation events
        }
        Ok(Step::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_tokens_numbers() {
        let c = Cohere
            .context_length(400, "too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4292. Try using a shorter prompt, or enabling prompt truncating.", None)
            .unwrap();
        assert_eq!((c.limit, c.requested), (Some(4081), Some(4292)));
    }

    #[test]
    fn max_tokens_above_output_limit_is_not_a_context_error() {
        assert!(Cohere
            .context_length(400, "too many tokens: max tokens must be less than or equal to 4096, the maximum output for this model - received 8192.", None)
            .is_none());
    }

    #[test]
    fn error_finish_reason_is_a_failure() {
        let body = json!({"id": "x", "finish_reason": "ERROR", "message": {"role": "assistant", "content": []}});
        let e = Cohere.parse_response("m", &body).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Server);
    }

    #[tokio::test]
    async fn streamed_tool_call_pieces_become_one_tool_call_event() {
        let events = crate::providers::decode_all(
            &Cohere,
            include_str!("../../tests/fixtures/cohere/tool_stream.sse"),
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
                "sales_total_1byjy32y4hvq",
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
