//! Model discovery: each provider's own "list models" call and what a chat target can be
//! named from its answer. OpenAI and OpenAI-compatible servers `GET {base}/models`,
//! Anthropic `GET /v1/models`, Gemini `GET /v1beta/models` (models that can
//! `generateContent`, without the `models/` prefix), Cohere `GET /v1/models` (models with
//! the `chat` endpoint), Ollama `GET /api/tags`. Paged lists are followed for a bounded
//! number of pages.

use super::{Endpoint, ProviderKind};
use crate::error::UpstreamError;
use serde_json::Value;

/// Pages read at most (each asks for the provider's largest page).
pub const MAX_PAGES: usize = 5;

/// The URL and headers of one page of the model list; `page` is the previous page's
/// continuation token.
pub fn request(
    kind: ProviderKind,
    ep: &Endpoint,
    page: Option<&str>,
) -> (String, Vec<(&'static str, String)>) {
    let base = &ep.base_url;
    let bearer = || match &ep.api_key {
        Some(k) if !k.is_empty() => vec![("authorization", format!("Bearer {k}"))],
        _ => Vec::new(),
    };
    match kind {
        ProviderKind::OpenAi => (format!("{base}/models"), bearer()),
        ProviderKind::Anthropic => {
            let mut url = format!("{base}/v1/models?limit=1000");
            if let Some(after) = page {
                url.push_str(&format!("&after_id={}", encode(after)));
            }
            (
                url,
                vec![
                    ("x-api-key", ep.key().to_owned()),
                    (
                        "anthropic-version",
                        super::anthropic::API_VERSION.to_owned(),
                    ),
                ],
            )
        }
        ProviderKind::Gemini => {
            let mut url = format!("{base}/v1beta/models?pageSize=1000");
            if let Some(token) = page {
                url.push_str(&format!("&pageToken={}", encode(token)));
            }
            (url, vec![("x-goog-api-key", ep.key().to_owned())])
        }
        ProviderKind::Cohere => {
            let mut url = format!("{base}/v1/models?page_size=1000&endpoint=chat");
            if let Some(token) = page {
                url.push_str(&format!("&page_token={}", encode(token)));
            }
            (url, bearer())
        }
        ProviderKind::Ollama => (format!("{base}/api/tags"), bearer()),
    }
}

fn encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The chat models one page names, and the next page's token.
pub fn parse(
    kind: ProviderKind,
    body: &Value,
) -> Result<(Vec<String>, Option<String>), UpstreamError> {
    let provider = kind.name();
    let list = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| UpstreamError::malformed(provider, format!("missing `{key}`")))
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let next = |key: &str| text(body, key).filter(|t| !t.is_empty());
    Ok(match kind {
        ProviderKind::OpenAi => (
            list("data")?.iter().filter_map(|m| text(m, "id")).collect(),
            None,
        ),
        ProviderKind::Anthropic => {
            let more = body.get("has_more").and_then(Value::as_bool) == Some(true);
            (
                list("data")?.iter().filter_map(|m| text(m, "id")).collect(),
                if more { next("last_id") } else { None },
            )
        }
        ProviderKind::Gemini => (
            list("models")?
                .iter()
                .filter(|m| {
                    m["supportedGenerationMethods"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "generateContent"))
                })
                .filter_map(|m| text(m, "name"))
                .map(|n| n.strip_prefix("models/").unwrap_or(&n).to_owned())
                .collect(),
            next("nextPageToken"),
        ),
        ProviderKind::Cohere => (
            list("models")?
                .iter()
                .filter(|m| {
                    m["endpoints"]
                        .as_array()
                        .is_none_or(|a| a.iter().any(|x| x == "chat"))
                })
                .filter_map(|m| text(m, "name"))
                .collect(),
            next("next_page_token"),
        ),
        ProviderKind::Ollama => (
            list("models")?
                .iter()
                .filter_map(|m| text(m, "name").or_else(|| text(m, "model")))
                .collect(),
            None,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_provider_lists_only_its_chat_models_by_the_name_a_target_uses() {
        let gemini = json!({"models": [
            {"name": "models/gemini-1.5-flash", "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}
        ], "nextPageToken": "p2"});
        assert_eq!(
            parse(ProviderKind::Gemini, &gemini).unwrap(),
            (vec!["gemini-1.5-flash".to_owned()], Some("p2".to_owned()))
        );
        let cohere = json!({"models": [
            {"name": "command-r", "endpoints": ["generate", "chat"]},
            {"name": "embed-english-v3.0", "endpoints": ["embed"]}
        ]});
        assert_eq!(
            parse(ProviderKind::Cohere, &cohere).unwrap(),
            (vec!["command-r".to_owned()], None)
        );
        let anthropic = json!({"data": [{"type": "model", "id": "claude-3-5-haiku-20241022"}],
                               "has_more": true, "first_id": "a", "last_id": "claude-3-5-haiku-20241022"});
        assert_eq!(
            parse(ProviderKind::Anthropic, &anthropic)
                .unwrap()
                .1
                .as_deref(),
            Some("claude-3-5-haiku-20241022")
        );
        assert!(parse(ProviderKind::OpenAi, &json!({"error": "x"})).is_err());
    }

    #[test]
    fn continuation_tokens_are_sent_url_encoded() {
        let ep = Endpoint::new("http://h", Some("k".into()));
        let (url, headers) = request(ProviderKind::Gemini, &ep, Some("a/b=c"));
        assert_eq!(
            url,
            "http://h/v1beta/models?pageSize=1000&pageToken=a%2Fb%3Dc"
        );
        assert_eq!(headers, vec![("x-goog-api-key", "k".to_owned())]);
        let (url, headers) = request(ProviderKind::Ollama, &Endpoint::new("http://o", None), None);
        assert_eq!((url.as_str(), headers.len()), ("http://o/api/tags", 0));
    }
}
