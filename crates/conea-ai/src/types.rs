//! The provider-neutral vocabulary: what the gateway is asked ([`ChatRequest`]), what it
//! answers ([`ChatResponse`]) and what a stream carries ([`StreamEvent`]). Every provider
//! module translates its own wire format to and from these types and nothing else.

use crate::error::UpstreamError;
use serde::{Deserialize, Serialize};

/// The `fallback` of a request: `true` (the alias's targets), `false` (the first target
/// only) or a list of `provider/model` targets to try after the first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fallback {
    #[default]
    #[serde(skip)]
    Default,
    Enabled(bool),
    Targets(Vec<String>),
}

impl Fallback {
    pub fn is_default(&self) -> bool {
        matches!(self, Fallback::Default | Fallback::Enabled(true))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
}

/// A chat request. `model` is an alias from the `[ai]` configuration or a direct
/// `provider/model` name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    /// Which targets may answer: the alias's list (default), only the first, or the first
    /// followed by the given `provider/model` targets.
    #[serde(default, skip_serializing_if = "Fallback::is_default")]
    pub fallback: Fallback,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            fallback: Fallback::Default,
            max_tokens: None,
            temperature: None,
        }
    }

    /// The system messages joined (providers that take the system prompt apart from the
    /// conversation: Anthropic, Gemini), or `None` when there is none.
    pub fn system_prompt(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// The conversation without system messages.
    pub fn turns(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role != Role::System)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    Other,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A completed (non-streaming) answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's id for the response (e.g. `chatcmpl-…`, `msg_…`).
    pub id: String,
    pub provider: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    pub content: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

/// One event of a streamed answer. A successful stream is any number of `Delta`s, then
/// exactly one `Usage`, then `Finish`. A failed stream ends with `Error` instead, never with
/// `Finish`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    Usage(Usage),
    Finish(FinishReason),
    Error(UpstreamError),
}

impl StreamEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(self, StreamEvent::Finish(_) | StreamEvent::Error(_))
    }
}
