//! [`GatewayModel`]: the model through Conea's AI gateway — `ai:use`, the organization's
//! budget, the router (aliases, fallback with the whole transcript, retries, breakers) and
//! usage recorded per call.

use crate::conversation::{Model, Reply, ToolDef, Turn, Usage};
use async_trait::async_trait;
use conea_ai::{ChatRequest, Gateway, Message, Role};
use conea_core::error::{CoreError, CoreResult};
use conea_core::principal::Principal;
use std::sync::Arc;

pub struct GatewayModel {
    gateway: Arc<Gateway>,
}

impl GatewayModel {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        GatewayModel { gateway }
    }
}

/// The transcript in the gateway's vocabulary.
fn messages(turns: &[Turn]) -> Vec<Message> {
    turns
        .iter()
        .map(|t| match t {
            Turn::System(text) => Message::new(Role::System, text.clone()),
            Turn::User(text) => Message::new(Role::User, text.clone()),
            Turn::Assistant { text, .. } => Message::new(Role::Assistant, text.clone()),
            Turn::ToolResult { name, content, .. } => {
                Message::new(Role::User, format!("Result of {name}: {content}"))
            }
        })
        .collect()
}

#[async_trait]
impl Model for GatewayModel {
    async fn reply(
        &self,
        by: &Principal,
        model: &str,
        turns: &[Turn],
        _tools: &[ToolDef],
    ) -> CoreResult<Reply> {
        let req = ChatRequest::new(model, messages(turns));
        let (resp, attempts) = self.gateway.complete(by, &req).await?;
        let attempts = attempts
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreError::internal)?;
        Ok(Reply {
            text: resp.content,
            calls: Vec::new(),
            provider: resp.provider,
            model: resp.model,
            usage: Usage {
                input_tokens: resp.usage.input_tokens,
                output_tokens: resp.usage.output_tokens,
            },
            attempts,
        })
    }
}
