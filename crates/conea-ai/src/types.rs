//! The provider-neutral vocabulary: what the gateway is asked ([`ChatRequest`]), what it
//! answers ([`ChatResponse`]) and what a stream carries ([`StreamEvent`]). Every provider
//! module translates its own wire format to and from these types and nothing else.

use crate::error::UpstreamError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    #[default]
    User,
    Assistant,
    /// The result of a tool call, answering an assistant message's [`ToolCall`].
    Tool,
}

/// A tool the model may call: a name, what it does, and its arguments as a JSON Schema
/// object (`{"type": "object", "properties": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// A JSON Schema object describing the arguments.
    pub parameters: Value,
}

impl ToolSpec {
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            parameters,
        }
    }
}

/// Whether and which tool the model must call. `Auto` (the default) lets the model decide;
/// `None` forbids tool calls; `Required` demands at least one; `Tool(name)` demands that
/// tool. Serialized as `"auto"`, `"none"`, `"required"` or `{"tool": "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Tool(String),
}

impl ToolChoice {
    pub fn is_auto(&self) -> bool {
        *self == ToolChoice::Auto
    }
}

/// A tool call the model made. `id` pairs it with its result ([`Message::tool_result`]);
/// for providers without call ids (Gemini, older Ollama) Conea makes a stable one.
/// `arguments` is the JSON the model wrote, normally an object; when a provider returned
/// text that is not JSON, it is kept as a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub arguments: Value,
}

impl ToolCall {
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }

    /// The arguments as JSON text (what OpenAI-style wires carry): an argument string kept
    /// as is, anything else serialized.
    pub fn arguments_text(&self) -> String {
        match &self.arguments {
            Value::String(s) => s.clone(),
            Value::Null => "{}".to_owned(),
            v => v.to_string(),
        }
    }

    /// Reads arguments sent as JSON text; text that is not JSON is kept as a string.
    pub fn parse_arguments(text: &str) -> Value {
        if text.trim().is_empty() {
            return Value::Object(serde_json::Map::new());
        }
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
    }
}

/// An image in a user message: inline bytes (a `data:` URL's media type and base64 text,
/// kept as sent) or an `http(s)` URL the provider fetches itself (Conea never fetches it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

impl ImageSource {
    /// Reads an OpenAI `image_url.url`: `data:<media type>;base64,<data>` or an
    /// `http(s)://` URL; anything else is `Err` with the reason.
    pub fn parse(url: &str) -> Result<Self, &'static str> {
        if let Some(rest) = url.strip_prefix("data:") {
            let (media_type, data) = rest
                .split_once(";base64,")
                .ok_or("a data: URL must be `data:<media type>;base64,<data>`")?;
            if !media_type.starts_with("image/") || media_type.contains(';') {
                return Err("a data: URL must carry an image/* media type");
            }
            if data.is_empty() {
                return Err("the data: URL holds no data");
            }
            return Ok(ImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            });
        }
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Ok(ImageSource::Url {
                url: url.to_owned(),
            });
        }
        Err("an image URL is a data: URL or an http(s) URL")
    }

    /// The URL as OpenAI-style wires carry it (a `data:` URL for inline bytes).
    pub fn as_url(&self) -> String {
        match self {
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
            ImageSource::Url { url } => url.clone(),
        }
    }

    /// The media type an `http(s)` URL's file extension names (providers that need one
    /// for a URL: Gemini's `fileData`), if it names one.
    pub fn url_media_type(url: &str) -> Option<&'static str> {
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "heic" => "image/heic",
            "heif" => "image/heif",
            _ => return None,
        })
    }
}

/// An image part: its source, and OpenAI's `detail` (`auto`, `low`, `high`) when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    #[serde(flatten)]
    pub source: ImageSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One part of a message with images, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    Image(Image),
}

/// What the answer must be: JSON (`JsonObject`), or JSON following a schema
/// (`JsonSchema`, OpenAI's `json_schema` with its `name`, `strict` and `description`).
/// No format (plain text) is `None` on the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ResponseFormat {
    JsonObject,
    JsonSchema {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        schema: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

/// One turn of the conversation. An assistant message may carry `tool_calls` (its
/// `content` may then be empty); a `Tool` message carries the result of one call in
/// `content`, with the call's `tool_call_id` and the tool's `name`. A user message with
/// images has them in `parts`, in order with its text (`content` is then the text alone).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// User messages with images: text and images in order (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// Assistant messages: the tool calls the model made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Tool messages: the id of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Tool messages: the name of the tool that was called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            ..Self::default()
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant turn that called tools (`content` is any text said alongside, often
    /// empty).
    pub fn assistant_tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
            tool_calls: calls,
            ..Self::default()
        }
    }

    /// The result of the tool call `id` to the tool `name`.
    pub fn tool_result(
        id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            role: Role::Tool,
            content: content.into(),
            tool_call_id: Some(id.into()),
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// A user message of text and images in order (`content` is the text joined).
    pub fn user_parts(parts: Vec<Part>) -> Self {
        let content = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Image(_) => None,
            })
            .collect::<String>();
        let has_images = parts.iter().any(|p| matches!(p, Part::Image(_)));
        Self {
            role: Role::User,
            content,
            parts: if has_images { parts } else { Vec::new() },
            ..Self::default()
        }
    }

    /// The images of the message, in order.
    pub fn images(&self) -> impl Iterator<Item = &Image> {
        self.parts.iter().filter_map(|p| match p {
            Part::Image(i) => Some(i),
            Part::Text(_) => None,
        })
    }

    /// The call id of a tool message (empty when missing).
    pub fn call_id(&self) -> &str {
        self.tool_call_id.as_deref().unwrap_or_default()
    }

    /// The tool name of a tool message (empty when missing).
    pub fn tool_name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
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
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    #[serde(default, skip_serializing_if = "ToolChoice::is_auto")]
    pub tool_choice: ToolChoice,
    /// JSON mode or a JSON schema the answer must follow (`None`: text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Sequences that end the answer (not included in it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Sampling seed, for providers that offer best-effort determinism.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The caller's end-user id, for the provider's abuse monitoring (changes no output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl ChatRequest {
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            fallback: Fallback::Default,
            max_tokens: None,
            temperature: None,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            response_format: None,
            stop: Vec::new(),
            seed: None,
            user: None,
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

    /// The tools to offer, as the request's `tool_choice` allows: none when it is `None`,
    /// only the named one when it names a tool. For wires that cannot express a choice.
    pub fn offered_tools(&self) -> Vec<&ToolSpec> {
        match &self.tool_choice {
            ToolChoice::None => Vec::new(),
            ToolChoice::Tool(name) => self.tools.iter().filter(|t| &t.name == name).collect(),
            ToolChoice::Auto | ToolChoice::Required => self.tools.iter().collect(),
        }
    }

    /// The conversation without system messages.
    pub fn turns(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| m.role != Role::System)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    #[default]
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

/// A completed (non-streaming) answer. When the model called tools, `tool_calls` holds
/// them and `finish_reason` is normally `ToolCalls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's id for the response (e.g. `chatcmpl-…`, `msg_…`).
    pub id: String,
    pub provider: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
}

impl ChatResponse {
    /// The answer as the assistant turn to append to the transcript (with its tool calls).
    pub fn message(&self) -> Message {
        Message::assistant_tool_calls(self.content.clone(), self.tool_calls.clone())
    }
}

/// One event of a streamed answer. A successful stream is any number of `Delta`s and
/// `ToolCall`s (each call whole, once its arguments are complete), then exactly one
/// `Usage`, then `Finish`. A failed stream ends with `Error` instead, never with
/// `Finish`.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Delta(String),
    ToolCall(ToolCall),
    Usage(Usage),
    Finish(FinishReason),
    Error(UpstreamError),
}

impl StreamEvent {
    pub fn is_terminal(&self) -> bool {
        matches!(self, StreamEvent::Finish(_) | StreamEvent::Error(_))
    }
}
