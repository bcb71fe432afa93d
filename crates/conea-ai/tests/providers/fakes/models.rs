//! What each fake answers to the provider's own "list models" call: the path, the fixture
//! (`tests/fixtures/*/models.json`) and the chat models a correct client reads from it.

use conea_ai::ProviderKind;

/// The path of the model list on the fake (relative to the server, not the base URL).
pub fn route(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Cohere => "/v1/models",
        ProviderKind::Gemini => "/v1beta/models",
        ProviderKind::Ollama => "/api/tags",
    }
}

pub fn fixture(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => include_str!("../../fixtures/openai/models.json"),
        ProviderKind::Anthropic => include_str!("../../fixtures/anthropic/models.json"),
        ProviderKind::Cohere => include_str!("../../fixtures/cohere/models.json"),
        ProviderKind::Gemini => include_str!("../../fixtures/gemini/models.json"),
        ProviderKind::Ollama => include_str!("../../fixtures/ollama/models.json"),
    }
}

/// The chat models in the fixture, sorted, by the names a target uses.
pub fn expected(kind: ProviderKind) -> Vec<&'static str> {
    match kind {
        ProviderKind::OpenAi => vec!["gpt-4o-mini", "o3-mini", "shared-model"],
        ProviderKind::Anthropic => vec!["claude-3-5-haiku-20241022", "shared-model"],
        ProviderKind::Cohere => vec!["command-r-plus-08-2024"],
        ProviderKind::Gemini => vec!["gemini-1.5-flash"],
        ProviderKind::Ollama => vec!["llama3.2:latest", "shared-model"],
    }
}
