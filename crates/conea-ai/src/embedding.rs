//! What the gateway is asked for embeddings and what it answers, provider-neutral (each
//! provider's wire format is in `providers/embeddings.rs`).

use serde::{Deserialize, Serialize};

/// Texts to embed with one model (an alias, `provider/model` or a bare name). Embeddings of
/// different models live in different spaces, so a bare name never falls back to another
/// provider's model; only an alias's own targets are tried in turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: Vec<String>,
    /// The vector length, for models that can shorten theirs.
    pub dimensions: Option<u32>,
    /// The end user, passed to providers that take it (OpenAI).
    pub user: Option<String>,
}

/// One vector per input, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    pub provider: String,
    /// The model as the target names it.
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
    /// Input tokens the provider counted (0 when it does not say: Gemini).
    pub input_tokens: u64,
}
