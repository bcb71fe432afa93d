//! The conversation with the model as the ask loop sees it, independent of any provider's
//! wire format: turns, tool definitions and calls, and the [`Model`] that answers a
//! transcript. [`crate::gateway::GatewayModel`] is the model through Conea's AI gateway
//! (router, fallback, budgets, usage); tests script their own.

use async_trait::async_trait;
use conea_core::error::CoreResult;
use conea_core::principal::Principal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool as the model sees it: name, description and the JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// The provider's id for the call (the result refers to it).
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// One turn of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    System(String),
    User(String),
    Assistant {
        text: String,
        calls: Vec<Call>,
    },
    ToolResult {
        call_id: String,
        name: String,
        content: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// The model's answer to one transcript: text, calls, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub calls: Vec<Call>,
    pub provider: String,
    pub model: String,
    pub usage: Usage,
    /// The gateway's attempts for this turn (every call and skip, the successful one last).
    pub attempts: Vec<Value>,
}

/// Answers a transcript with the tools offered. Implementations check the caller's
/// `ai:use` and budget (the gateway does).
#[async_trait]
pub trait Model: Send + Sync {
    async fn reply(
        &self,
        by: &Principal,
        model: &str,
        turns: &[Turn],
        tools: &[ToolDef],
    ) -> CoreResult<Reply>;

    /// Like [`Model::reply`], handing the reply's text to `text` piece by piece as the
    /// provider streams it. The default (a model that cannot stream) hands it over whole
    /// once the reply is complete.
    async fn reply_streamed(
        &self,
        by: &Principal,
        model: &str,
        turns: &[Turn],
        tools: &[ToolDef],
        text: &(dyn for<'s> Fn(&'s str) + Send + Sync),
    ) -> CoreResult<Reply> {
        let reply = self.reply(by, model, turns, tools).await?;
        if !reply.text.is_empty() {
            text(&reply.text);
        }
        Ok(reply)
    }
}
