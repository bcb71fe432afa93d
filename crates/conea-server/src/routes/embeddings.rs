//! `POST /v1/embeddings`, OpenAI's shape in and out, over OpenAI, Cohere, Gemini and Ollama
//! (`conea_ai::Gateway::embed`).

use super::ai::with_provider;
use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use conea_ai::EmbeddingRequest;
use conea_core::CoreError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most texts in one request (OpenAI's own limit).
pub const MAX_INPUTS: usize = 2048;

fn encoding_format() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    super::schemas::or_null(super::schemas::one_of(["float", "base64"]))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EmbeddingsBody {
    /// An alias, `provider/model` or a bare embedding model name.
    #[schema(min_length = 1)]
    pub model: String,
    /// A text, or up to 2048 texts (token arrays are not accepted).
    #[schema(value_type = Object)]
    pub input: Value,
    /// `float` (default) or `base64` (little-endian float32).
    #[schema(schema_with = encoding_format)]
    pub encoding_format: Option<String>,
    /// The vector length, for models that can shorten theirs.
    #[schema(minimum = 1)]
    pub dimensions: Option<u32>,
    pub user: Option<String>,
}

fn texts(input: Value) -> Result<Vec<String>, ApiError> {
    let bad = |m: &str| ApiError(CoreError::invalid("input", m.to_owned()));
    let list = match input {
        Value::String(s) => vec![Value::String(s)],
        Value::Array(a) => a,
        _ => return Err(bad("`input` is a string or an array of strings.")),
    };
    if list.is_empty() || list.len() > MAX_INPUTS {
        return Err(bad(&format!("Send 1 to {MAX_INPUTS} texts in `input`.")));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) if !s.is_empty() => Ok(s),
            Value::String(_) => Err(bad(&format!("`input[{i}]` is empty."))),
            _ => Err(bad(&format!(
                "`input[{i}]` is not a string (token arrays are not accepted; send the text)."
            ))),
        })
        .collect()
}

/// Embeddings in OpenAI's shape [ai:use]. Counts against the caller's rate limit and AI
/// budget like completions; a bare name never falls back to another provider's model.
#[utoipa::path(post, path = "/embeddings", tag = "ai", request_body = EmbeddingsBody, security(("bearer" = []), ("api_key" = [])),
    responses(
    (status = 200, description = "`{object: list, data: [{object: embedding, index, embedding}], model, usage: {prompt_tokens, total_tokens}}`; header X-Conea-Provider"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter`, `unknown_model`, `ai_invalid_request` (a provider without embeddings: Anthropic)"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "`rate_limit_exceeded`, `budget_exceeded`"),
    (status = 502, body = ErrorBody, description = "`all_providers_failed`"),
    (status = 503, body = ErrorBody, description = "`no_ai_provider_configured`")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(body): ApiJson<EmbeddingsBody>,
) -> ApiResult<Response> {
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError(CoreError::invalid(
                "encoding_format",
                format!("`{other}` is not `float` or `base64`."),
            )))
        }
    };
    if body.dimensions == Some(0) {
        return Err(ApiError(CoreError::invalid(
            "dimensions",
            "`dimensions` is at least 1.",
        )));
    }
    let req = EmbeddingRequest {
        model: body.model,
        input: texts(body.input)?,
        dimensions: body.dimensions,
        user: body.user,
    };
    let (resp, _attempts) = state.platform().ai.embed(&p, &req).await?;
    let data: Vec<Value> = resp
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let out = json!({
        "object": "list",
        "data": data,
        "model": resp.model,
        "usage": {"prompt_tokens": resp.input_tokens, "total_tokens": resp.input_tokens},
    });
    Ok(with_provider(
        axum::Json(out).into_response(),
        &resp.provider,
    ))
}
