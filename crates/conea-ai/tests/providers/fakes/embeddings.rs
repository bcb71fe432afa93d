//! What each fake answers to an embeddings request, in the provider's own shape: for the
//! i-th input the vector `[i + 0.5, -0.25, 0.125]`, and the provider's token count (3 per
//! input) where it reports one.

use conea_ai::ProviderKind;
use serde_json::{json, Value};

/// The fake's embeddings path (Gemini's `…:batchEmbedContents` shares the chat route).
pub fn route(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::OpenAi => Some("/v1/embeddings"),
        ProviderKind::Cohere => Some("/v2/embed"),
        ProviderKind::Ollama => Some("/api/embed"),
        ProviderKind::Gemini | ProviderKind::Anthropic => None,
    }
}

pub fn vector(i: usize) -> Vec<f32> {
    vec![i as f32 + 0.5, -0.25, 0.125]
}

/// The provider's answer to `body`.
pub fn answer(kind: ProviderKind, body: &Value) -> Value {
    let texts = match kind {
        ProviderKind::OpenAi | ProviderKind::Ollama => body["input"].as_array().cloned(),
        ProviderKind::Cohere => body["texts"].as_array().cloned(),
        ProviderKind::Gemini => body["requests"].as_array().cloned(),
        ProviderKind::Anthropic => None,
    }
    .unwrap_or_default();
    let n = texts.len();
    let model = body["model"].clone();
    match kind {
        ProviderKind::OpenAi => json!({
            "object": "list",
            "data": (0..n).map(|i| json!({"object": "embedding", "index": i, "embedding": vector(i)})).collect::<Vec<_>>(),
            "model": model,
            "usage": {"prompt_tokens": 3 * n, "total_tokens": 3 * n}
        }),
        ProviderKind::Cohere => json!({
            "id": "da6e531f-54c6-4a73-bf92-f60566d8d753",
            "embeddings": {"float": (0..n).map(vector).collect::<Vec<_>>()},
            "texts": texts,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 3 * n}}
        }),
        ProviderKind::Gemini => json!({
            "embeddings": (0..n).map(|i| json!({"values": vector(i)})).collect::<Vec<_>>()
        }),
        ProviderKind::Ollama => json!({
            "model": model,
            "embeddings": (0..n).map(vector).collect::<Vec<_>>(),
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": 3 * n
        }),
        ProviderKind::Anthropic => Value::Null,
    }
}
