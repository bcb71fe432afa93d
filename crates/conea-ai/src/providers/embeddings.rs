//! Embeddings in each provider's own wire format: OpenAI `POST {base}/embeddings`, Cohere
//! `POST /v2/embed`, Gemini `POST /v1beta/models/{model}:batchEmbedContents`, Ollama
//! `POST /api/embed`. Anthropic has no embeddings API: a request for it is refused before
//! anything is sent.

use super::util::JsonPath;
use super::{Endpoint, ProviderKind};
use crate::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::error::{ErrorKind, UpstreamError};
use crate::http::WireRequest;
use serde_json::{json, Value};

/// The request, or why this provider cannot embed.
pub fn request(
    kind: ProviderKind,
    ep: &Endpoint,
    model: &str,
    req: &EmbeddingRequest,
) -> Result<WireRequest, UpstreamError> {
    let base = &ep.base_url;
    let bearer = || match &ep.api_key {
        Some(k) if !k.is_empty() => vec![("authorization", format!("Bearer {k}"))],
        _ => Vec::new(),
    };
    Ok(match kind {
        ProviderKind::OpenAi => {
            let mut body = json!({"model": model, "input": req.input, "encoding_format": "float"});
            if let Some(d) = req.dimensions {
                body["dimensions"] = json!(d);
            }
            if let Some(u) = &req.user {
                body["user"] = json!(u);
            }
            WireRequest {
                url: format!("{base}/embeddings"),
                headers: bearer(),
                body,
            }
        }
        ProviderKind::Cohere => {
            let mut body = json!({
                "model": model,
                "texts": req.input,
                "input_type": "search_document",
                "embedding_types": ["float"],
            });
            if let Some(d) = req.dimensions {
                body["output_dimension"] = json!(d);
            }
            WireRequest {
                url: format!("{base}/v2/embed"),
                headers: bearer(),
                body,
            }
        }
        ProviderKind::Gemini => {
            let requests: Vec<Value> = req
                .input
                .iter()
                .map(|text| {
                    let mut r = json!({
                        "model": format!("models/{model}"),
                        "content": {"parts": [{"text": text}]},
                    });
                    if let Some(d) = req.dimensions {
                        r["outputDimensionality"] = json!(d);
                    }
                    r
                })
                .collect();
            WireRequest {
                url: format!("{base}/v1beta/models/{model}:batchEmbedContents"),
                headers: vec![("x-goog-api-key", ep.key().to_owned())],
                body: json!({"requests": requests}),
            }
        }
        ProviderKind::Ollama => {
            let mut body = json!({"model": model, "input": req.input});
            if let Some(d) = req.dimensions {
                body["dimensions"] = json!(d);
            }
            WireRequest {
                url: format!("{base}/api/embed"),
                headers: bearer(),
                body,
            }
        }
        ProviderKind::Anthropic => {
            return Err(UpstreamError::new(
                kind.name(),
                ErrorKind::InvalidRequest,
                "Anthropic offers no embeddings; name an OpenAI, Cohere, Gemini or Ollama embedding model",
            ))
        }
    })
}

fn vector(provider: &str, v: &Value) -> Result<Vec<f32>, UpstreamError> {
    v.as_array()
        .ok_or_else(|| UpstreamError::malformed(provider, "an embedding is not a list"))?
        .iter()
        .map(|x| {
            x.as_f64().map(|f| f as f32).ok_or_else(|| {
                UpstreamError::malformed(provider, "an embedding holds a non-number")
            })
        })
        .collect()
}

/// The vectors (in input order) and the input tokens the provider counted.
pub fn parse(
    kind: ProviderKind,
    model: &str,
    inputs: usize,
    body: &Value,
) -> Result<EmbeddingResponse, UpstreamError> {
    let provider = kind.name();
    let list = |pointer: &str| {
        body.at(pointer)
            .and_then(Value::as_array)
            .ok_or_else(|| UpstreamError::malformed(provider, format!("missing `{pointer}`")))
    };
    let tokens = |pointer: &str| body.at(pointer).and_then(Value::as_u64).unwrap_or(0);
    let (vectors, input_tokens): (Vec<Vec<f32>>, u64) = match kind {
        ProviderKind::OpenAi => {
            let mut items: Vec<(u64, Vec<f32>)> = list("/data")?
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let index = d["index"].as_u64().unwrap_or(i as u64);
                    vector(provider, &d["embedding"]).map(|v| (index, v))
                })
                .collect::<Result<_, _>>()?;
            items.sort_by_key(|(i, _)| *i);
            (
                items.into_iter().map(|(_, v)| v).collect(),
                tokens("/usage/prompt_tokens"),
            )
        }
        ProviderKind::Cohere => (
            list("/embeddings/float")?
                .iter()
                .map(|v| vector(provider, v))
                .collect::<Result<_, _>>()?,
            tokens("/meta/billed_units/input_tokens"),
        ),
        ProviderKind::Gemini => (
            list("/embeddings")?
                .iter()
                .map(|e| vector(provider, &e["values"]))
                .collect::<Result<_, _>>()?,
            0,
        ),
        ProviderKind::Ollama => (
            list("/embeddings")?
                .iter()
                .map(|v| vector(provider, v))
                .collect::<Result<_, _>>()?,
            tokens("/prompt_eval_count"),
        ),
        ProviderKind::Anthropic => {
            return Err(UpstreamError::malformed(provider, "no embeddings"));
        }
    };
    if vectors.len() != inputs {
        return Err(UpstreamError::malformed(
            provider,
            format!("{} embeddings for {inputs} inputs", vectors.len()),
        ));
    }
    Ok(EmbeddingResponse {
        provider: provider.to_owned(),
        model: model.to_owned(),
        vectors,
        input_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> EmbeddingRequest {
        EmbeddingRequest {
            model: "m".into(),
            input: vec!["a".into(), "b".into()],
            dimensions: Some(8),
            user: None,
        }
    }

    #[test]
    fn each_provider_names_the_dimensions_its_own_way() {
        let ep = Endpoint::new("http://h", Some("k".into()));
        let body = |k| request(k, &ep, "m", &req()).unwrap().body;
        assert_eq!(body(ProviderKind::OpenAi)["dimensions"], 8);
        assert_eq!(body(ProviderKind::Cohere)["output_dimension"], 8);
        assert_eq!(body(ProviderKind::Cohere)["texts"], json!(["a", "b"]));
        assert_eq!(
            body(ProviderKind::Gemini)["requests"][1]["outputDimensionality"],
            8
        );
        assert_eq!(
            body(ProviderKind::Gemini)["requests"][1]["content"]["parts"][0]["text"],
            "b"
        );
        assert_eq!(body(ProviderKind::Ollama)["dimensions"], 8);
        let e = request(ProviderKind::Anthropic, &ep, "m", &req()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn openai_vectors_come_back_in_input_order_and_a_short_answer_is_malformed() {
        let body = json!({"object": "list", "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5]},
            {"object": "embedding", "index": 0, "embedding": [0.25]}
        ], "usage": {"prompt_tokens": 4, "total_tokens": 4}});
        let r = parse(ProviderKind::OpenAi, "m", 2, &body).unwrap();
        assert_eq!(r.vectors, vec![vec![0.25], vec![0.5]]);
        assert_eq!(r.input_tokens, 4);
        assert!(parse(ProviderKind::OpenAi, "m", 3, &body).is_err());
    }
}
