//! [`GatewayModel`]: the model through Conea's AI gateway — `ai:use`, the organization's
//! budget, the router (aliases, fallback with the whole transcript, retries, breakers) and
//! usage recorded per call.

use crate::conversation::{Call, Model, Reply, ToolDef, Turn, Usage};
use async_trait::async_trait;
use conea_ai::{ChatRequest, Gateway, Message, Role, StreamEvent, ToolCall, ToolSpec};
use conea_core::error::{CoreError, CoreResult};
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;

pub struct GatewayModel {
    gateway: Arc<Gateway>,
}

impl GatewayModel {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        GatewayModel { gateway }
    }
}

/// The transcript in the gateway's vocabulary (each provider module translates it into its
/// own wire format: OpenAI `tool_calls`/`tool`, Anthropic `tool_use`/`tool_result`, …).
fn messages(turns: &[Turn]) -> Vec<Message> {
    turns
        .iter()
        .map(|t| match t {
            Turn::System(text) => Message::new(Role::System, text.clone()),
            Turn::User(text) => Message::new(Role::User, text.clone()),
            Turn::Assistant { text, calls } if calls.is_empty() => Message::assistant(text.clone()),
            Turn::Assistant { text, calls } => Message::assistant_tool_calls(
                text.clone(),
                calls
                    .iter()
                    .map(|c| ToolCall::new(c.id.clone(), c.name.clone(), c.arguments.clone()))
                    .collect(),
            ),
            Turn::ToolResult {
                call_id,
                name,
                content,
            } => Message::tool_result(call_id.clone(), name.clone(), content.clone()),
        })
        .collect()
}

fn specs(tools: &[ToolDef]) -> Vec<ToolSpec> {
    tools
        .iter()
        .map(|t| ToolSpec::new(t.name.clone(), t.description.clone(), t.parameters.clone()))
        .collect()
}

/// A call as the model wrote it; arguments a provider returned as text that is not JSON
/// stay a string (the executor answers that with a tool error).
fn call(c: ToolCall) -> Call {
    Call {
        id: c.id,
        name: c.name,
        arguments: c.arguments,
    }
}

#[async_trait]
impl Model for GatewayModel {
    async fn reply(
        &self,
        by: &Principal,
        model: &str,
        turns: &[Turn],
        tools: &[ToolDef],
    ) -> CoreResult<Reply> {
        let mut req = ChatRequest::new(model, messages(turns));
        req.tools = specs(tools);
        let (resp, attempts) = self.gateway.complete(by, &req).await?;
        let attempts = attempts
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::internal)?;
        Ok(Reply {
            text: resp.content,
            calls: resp.tool_calls.into_iter().map(call).collect(),
            provider: resp.provider,
            model: resp.model,
            usage: Usage {
                input_tokens: resp.usage.input_tokens,
                output_tokens: resp.usage.output_tokens,
            },
            attempts,
        })
    }

    /// The same turn through the gateway's stream (the one `/v1/chat/completions` with
    /// `stream: true` uses): each text delta is handed on as it arrives, tool calls and
    /// usage are gathered, and the reply is the whole. Fallback applies until the first
    /// event; an error after it fails the turn.
    async fn reply_streamed(
        &self,
        by: &Principal,
        model: &str,
        turns: &[Turn],
        tools: &[ToolDef],
        text: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> CoreResult<Reply> {
        let mut req = ChatRequest::new(model, messages(turns));
        req.tools = specs(tools);
        let mut routed = self.gateway.stream(by, &req).await?;
        let attempts = routed
            .attempts
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::internal)?;
        let mut reply = Reply {
            text: String::new(),
            calls: Vec::new(),
            provider: routed.provider.clone(),
            model: routed.model.clone(),
            usage: Usage::default(),
            attempts,
        };
        while let Some(event) = routed.events.next().await {
            match event {
                StreamEvent::Delta(piece) => {
                    if !piece.is_empty() {
                        text(&piece);
                        reply.text.push_str(&piece);
                    }
                }
                StreamEvent::ToolCall(c) => reply.calls.push(call(c)),
                StreamEvent::Usage(u) => {
                    reply.usage = Usage {
                        input_tokens: u.input_tokens,
                        output_tokens: u.output_tokens,
                    }
                }
                StreamEvent::Finish(_) => {}
                StreamEvent::Error(e) => {
                    return Err(CoreError::Upstream {
                        code: ErrorCode::AllProvidersFailed,
                        message: format!(
                            "{} failed while streaming the answer: {}",
                            e.provider, e.message
                        ),
                        details: json!({"provider": e.provider, "status": e.status}),
                    })
                }
            }
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_transcript_keeps_calls_and_results_paired_by_id() {
        let turns = vec![
            Turn::System("rules".into()),
            Turn::User("Revenue?".into()),
            Turn::Assistant {
                text: String::new(),
                calls: vec![Call {
                    id: "call_1".into(),
                    name: "sales_over_time".into(),
                    arguments: json!({"from": "2026-03-01"}),
                }],
            },
            Turn::ToolResult {
                call_id: "call_1".into(),
                name: "sales_over_time".into(),
                content: "{}".into(),
            },
            Turn::Assistant {
                text: "Revenue was 1.".into(),
                calls: Vec::new(),
            },
        ];
        let m = messages(&turns);
        assert_eq!(
            m.iter().map(|m| m.role).collect::<Vec<_>>(),
            vec![
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Assistant
            ]
        );
        assert_eq!(m[2].tool_calls[0].id, "call_1");
        assert_eq!(m[2].tool_calls[0].arguments, json!({"from": "2026-03-01"}));
        assert_eq!(
            (m[3].call_id(), m[3].tool_name()),
            ("call_1", "sales_over_time")
        );
        assert!(m[4].tool_calls.is_empty());
        let s = specs(&crate::tools::catalogue());
        assert_eq!(s.len(), 14);
        assert_eq!(s[0].parameters["type"], "object");
    }
}
