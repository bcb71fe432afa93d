//! What each provider's fake says, byte for byte: the fixtures under `tests/fixtures/`, the
//! statuses it uses for each failure, and what a correct client reads from them.

use conea_ai::ProviderKind;
use serde_json::Value;

/// What a client should read from the fixtures.
pub struct Expected {
    pub content: &'static str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub stream_content: &'static str,
    pub stream_input_tokens: u64,
    pub stream_output_tokens: u64,
}

pub struct Dialect {
    pub kind: ProviderKind,
    /// The axum route the fake serves.
    pub route: &'static str,
    /// Appended to the server URL to make the `*_BASE_URL` value.
    pub base_suffix: &'static str,
    pub wants_stream: fn(path: &str, body: &Value) -> bool,
    pub stream_content_type: &'static str,
    pub complete: &'static str,
    /// A complete answer that calls the `sales_total` tool.
    pub tool_call: &'static str,
    pub stream: &'static str,
    /// One content event with `{TEXT}`.
    pub delta: &'static str,
    /// The provider's in-stream error event.
    pub stream_error: &'static str,
    /// Events of `stream` to send before a mid-stream failure (at least one delta).
    pub events_before_failure: usize,
    pub rate_limit: &'static str,
    pub overloaded: (u16, &'static str),
    pub server: &'static str,
    pub auth: (u16, &'static str),
    pub context_length: (u16, &'static str),
    pub invalid: &'static str,
    pub expected: Expected,
}

fn stream_flag(_: &str, body: &Value) -> bool {
    body["stream"] == true
}

fn ollama_stream_flag(_: &str, body: &Value) -> bool {
    body["stream"] != false // Ollama streams unless told not to
}

fn gemini_stream_flag(path: &str, _: &Value) -> bool {
    path.contains(":streamGenerateContent")
}

macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
    };
}

pub static OPENAI: Dialect = Dialect {
    kind: ProviderKind::OpenAi,
    route: "/v1/chat/completions",
    base_suffix: "/v1",
    wants_stream: stream_flag,
    stream_content_type: "text/event-stream; charset=utf-8",
    complete: fixture!("openai/complete.json"),
    tool_call: fixture!("openai/tool_call.json"),
    stream: fixture!("openai/stream.sse"),
    delta: fixture!("openai/delta.sse"),
    stream_error: fixture!("openai/stream_error.sse"),
    events_before_failure: 2,
    rate_limit: fixture!("openai/error_rate_limit.json"),
    overloaded: (503, fixture!("openai/error_overloaded.json")),
    server: fixture!("openai/error_server.json"),
    auth: (401, fixture!("openai/error_auth.json")),
    context_length: (400, fixture!("openai/error_context_length.json")),
    invalid: fixture!("openai/error_invalid.json"),
    expected: Expected {
        content: "\n\nHello there, how may I assist you today?",
        input_tokens: 9,
        output_tokens: 12,
        stream_content: "Hello there!",
        stream_input_tokens: 9,
        stream_output_tokens: 3,
    },
};

pub static ANTHROPIC: Dialect = Dialect {
    kind: ProviderKind::Anthropic,
    route: "/v1/messages",
    base_suffix: "",
    wants_stream: stream_flag,
    stream_content_type: "text/event-stream; charset=utf-8",
    complete: fixture!("anthropic/complete.json"),
    tool_call: fixture!("anthropic/tool_call.json"),
    stream: fixture!("anthropic/stream.sse"),
    delta: fixture!("anthropic/delta.sse"),
    stream_error: fixture!("anthropic/stream_error.sse"),
    events_before_failure: 4,
    rate_limit: fixture!("anthropic/error_rate_limit.json"),
    overloaded: (529, fixture!("anthropic/error_overloaded.json")),
    server: fixture!("anthropic/error_server.json"),
    auth: (401, fixture!("anthropic/error_auth.json")),
    context_length: (400, fixture!("anthropic/error_context_length.json")),
    invalid: fixture!("anthropic/error_invalid.json"),
    expected: Expected {
        content: "Hi! My name is Claude.",
        input_tokens: 2095,
        output_tokens: 503,
        stream_content: "Hello!",
        stream_input_tokens: 25,
        stream_output_tokens: 15,
    },
};

pub static COHERE: Dialect = Dialect {
    kind: ProviderKind::Cohere,
    route: "/v2/chat",
    base_suffix: "",
    wants_stream: stream_flag,
    stream_content_type: "text/event-stream",
    complete: fixture!("cohere/complete.json"),
    tool_call: fixture!("cohere/tool_call.json"),
    stream: fixture!("cohere/stream.sse"),
    delta: fixture!("cohere/delta.sse"),
    stream_error: fixture!("cohere/stream_error.sse"),
    events_before_failure: 3,
    rate_limit: fixture!("cohere/error_rate_limit.json"),
    overloaded: (503, fixture!("cohere/error_overloaded.json")),
    server: fixture!("cohere/error_server.json"),
    auth: (401, fixture!("cohere/error_auth.json")),
    context_length: (400, fixture!("cohere/error_context_length.json")),
    invalid: fixture!("cohere/error_invalid.json"),
    expected: Expected {
        content: "LLMs stand for Large Language Models, which are a type of neural network model specialized in processing and generating human language.",
        input_tokens: 71,
        output_tokens: 418,
        stream_content: "Coca-Cola is a drink.",
        stream_input_tokens: 186,
        stream_output_tokens: 105,
    },
};

pub static GEMINI: Dialect = Dialect {
    kind: ProviderKind::Gemini,
    route: "/v1beta/models/{*rest}",
    base_suffix: "",
    wants_stream: gemini_stream_flag,
    stream_content_type: "text/event-stream",
    complete: fixture!("gemini/complete.json"),
    tool_call: fixture!("gemini/tool_call.json"),
    stream: fixture!("gemini/stream.sse"),
    delta: fixture!("gemini/delta.sse"),
    stream_error: fixture!("gemini/stream_error.sse"),
    events_before_failure: 1,
    rate_limit: fixture!("gemini/error_rate_limit.json"),
    overloaded: (503, fixture!("gemini/error_overloaded.json")),
    server: fixture!("gemini/error_server.json"),
    auth: (400, fixture!("gemini/error_auth.json")),
    context_length: (400, fixture!("gemini/error_context_length.json")),
    invalid: fixture!("gemini/error_invalid.json"),
    expected: Expected {
        content: "AI learns patterns from data to make predictions or decisions.",
        input_tokens: 8,
        output_tokens: 11,
        stream_content: "AI learns patterns from data.",
        stream_input_tokens: 8,
        stream_output_tokens: 6,
    },
};

pub static OLLAMA: Dialect = Dialect {
    kind: ProviderKind::Ollama,
    route: "/api/chat",
    base_suffix: "",
    wants_stream: ollama_stream_flag,
    stream_content_type: "application/x-ndjson",
    complete: fixture!("ollama/complete.json"),
    tool_call: fixture!("ollama/tool_call.json"),
    stream: fixture!("ollama/stream.ndjson"),
    delta: fixture!("ollama/delta.ndjson"),
    stream_error: fixture!("ollama/stream_error.ndjson"),
    events_before_failure: 1,
    rate_limit: fixture!("ollama/error_rate_limit.json"),
    overloaded: (503, fixture!("ollama/error_overloaded.json")),
    server: fixture!("ollama/error_server.json"),
    auth: (401, fixture!("ollama/error_auth.json")),
    context_length: (400, fixture!("ollama/error_context_length.json")),
    invalid: fixture!("ollama/error_invalid.json"),
    expected: Expected {
        content: "Hello! How are you today?",
        input_tokens: 26,
        output_tokens: 298,
        stream_content: "The sky is blue.",
        stream_input_tokens: 26,
        stream_output_tokens: 282,
    },
};

pub static ALL: [&Dialect; 5] = [&OPENAI, &ANTHROPIC, &COHERE, &GEMINI, &OLLAMA];

pub const HTML_502: &str = fixture!("common/html_502.html");

/// Splits a streaming fixture into its events, separators kept: SSE events end with a
/// blank line (`\n\n` or `\r\n\r\n`), NDJSON events are lines.
pub fn split_events(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let cut = [
            rest.find("\r\n\r\n").map(|i| i + 4),
            rest.find("\n\n").map(|i| i + 2),
        ]
        .into_iter()
        .flatten()
        .min();
        let cut = match cut {
            Some(c) => c,
            None if text.contains("\n\n") || text.contains("\r\n\r\n") => break,
            None => match rest.find('\n') {
                Some(i) => i + 1,
                None => break,
            },
        };
        out.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    if !rest.trim().is_empty() {
        out.push(rest.to_owned());
    }
    out
}
