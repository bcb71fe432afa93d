//! Turning any upstream failure into an [`UpstreamError`]: a non-2xx response (JSON error
//! bodies of every provider's shape, HTML error pages, empty bodies) or a transport error
//! (connect, timeout, broken body). The only provider-specific part, recognising a
//! context-length failure (and a retry delay inside the body), is asked of [`ErrorHints`].

use crate::error::{ContextInfo, ErrorKind, UpstreamError};
use serde_json::Value;
use std::time::Duration;

/// What only the provider module knows about its error bodies.
pub trait ErrorHints: Send + Sync {
    /// `Some` when this failure means "the prompt does not fit the context window", with
    /// whatever numbers the provider gave. Asked for every failure status except 401, 403
    /// and 429.
    fn context_length(
        &self,
        status: u16,
        message: &str,
        body: Option<&Value>,
    ) -> Option<ContextInfo>;

    /// A kind the status alone gets wrong (Gemini answers a bad API key with 400
    /// `API_KEY_INVALID`, not 401).
    fn reclassify(&self, _status: u16, _body: Option<&Value>) -> Option<ErrorKind> {
        None
    }

    /// A retry delay carried in the body (e.g. Google's `RetryInfo`), used when there is no
    /// `Retry-After` header.
    fn retry_delay(&self, _body: &Value) -> Option<Duration> {
        None
    }
}

/// The longest provider message kept (bodies can be whole HTML pages).
const MAX_MESSAGE: usize = 300;

/// Classifies a non-2xx response.
pub fn classify_status(
    provider: &str,
    status: u16,
    body: &[u8],
    header_retry_after: Option<Duration>,
    hints: &dyn ErrorHints,
) -> UpstreamError {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let text = String::from_utf8_lossy(body);
    let message = json
        .as_ref()
        .and_then(error_message)
        .or_else(|| html_summary(&text, status))
        .unwrap_or_else(|| {
            let t = text.trim();
            if t.is_empty() {
                format!("HTTP {status} with an empty body")
            } else {
                t.to_owned()
            }
        });
    let message = excerpt(&message);
    let context = if matches!(status, 401 | 403 | 429) {
        None
    } else {
        hints.context_length(status, &message, json.as_ref())
    };
    let kind = match (status, context.is_some()) {
        (_, true) => ErrorKind::ContextLength,
        (429, _) => ErrorKind::RateLimited,
        (503 | 529, _) => ErrorKind::Overloaded,
        (408 | 504, _) => ErrorKind::Timeout,
        (500..=599, _) => ErrorKind::Server,
        (401 | 403, _) => ErrorKind::Auth,
        (404, _) => ErrorKind::NotFound,
        (400 | 413 | 422, _) => ErrorKind::InvalidRequest,
        _ => ErrorKind::Other,
    };
    let kind = hints.reclassify(status, json.as_ref()).unwrap_or(kind);
    let retry_after =
        header_retry_after.or_else(|| json.as_ref().and_then(|j| hints.retry_delay(j)));
    let mut err = UpstreamError::new(provider, kind, message)
        .with_status(status)
        .with_retry_after(retry_after);
    if let Some(c) = context {
        err = err.with_context(c);
    }
    err
}

/// What failed on the way to a response, or while its body was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Connect,
    Body,
    Request,
}

/// Classifies a transport failure (no response, or a body that broke off). `url` names the
/// request (never a key: keys travel in headers) when the error does not already.
pub fn classify_transport(
    provider: &str,
    failure: Transport,
    url: Option<&str>,
    e: &(dyn std::error::Error + 'static),
) -> UpstreamError {
    let kind = match failure {
        Transport::Timeout => ErrorKind::Timeout,
        _ => ErrorKind::Connection,
    };
    let what = match failure {
        Transport::Timeout => "timed out",
        Transport::Connect => "could not connect",
        Transport::Body => "the response body broke off",
        Transport::Request => "request failed",
    };
    let mut message = match url {
        Some(url) => format!("{what}: {url}: {e}"),
        None => format!("{what}: {e}"),
    };
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    UpstreamError::new(provider, kind, excerpt(&message))
}

/// A failure of reqwest, the client of destinations reached through a proxy. Its
/// `Display` carries the URL.
pub fn classify_reqwest(provider: &str, e: &reqwest::Error) -> UpstreamError {
    let failure = if e.is_timeout() {
        Transport::Timeout
    } else if e.is_connect() {
        Transport::Connect
    } else if e.is_body() || e.is_decode() {
        Transport::Body
    } else {
        Transport::Request
    };
    classify_transport(provider, failure, None, e)
}

/// The human message in an error body, whichever provider shaped it:
/// `{"error":{"message"}}` (OpenAI, Anthropic, Gemini), `[{"error":{…}}]` (Gemini streaming),
/// `{"message"}` (Cohere), `{"error":"…"}` (Ollama).
pub fn error_message(body: &Value) -> Option<String> {
    let body = match body {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let error = body.get("error");
    error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .or_else(|| error.and_then(Value::as_str))
        .or_else(|| body.get("message").and_then(Value::as_str))
        .or_else(|| body.get("detail").and_then(Value::as_str))
        .map(str::to_owned)
}

/// `HTTP 502 with an HTML body: <title>` for proxy error pages.
fn html_summary(text: &str, status: u16) -> Option<String> {
    let lower = text.trim_start().to_ascii_lowercase();
    if !(lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<body"))
    {
        return None;
    }
    let title = lower
        .find("<title>")
        .and_then(|start| {
            let rest = &text.trim_start()[start + 7..];
            rest.find("</").map(|end| rest[..end].trim().to_owned())
        })
        .filter(|t| !t.is_empty());
    Some(match title {
        Some(t) => format!("HTTP {status} with an HTML body: {t}"),
        None => format!("HTTP {status} with an HTML body"),
    })
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= MAX_MESSAGE {
        return t.to_owned();
    }
    let cut: String = t.chars().take(MAX_MESSAGE).collect();
    format!("{cut}…")
}

/// The first integer right after `marker` in `text` (digits may carry `,` or `_`
/// separators), e.g. `number_after("limit is 8,192 tokens", "limit is ")`.
pub fn number_after(text: &str, marker: &str) -> Option<u64> {
    let start = text.find(marker)? + marker.len();
    leading_number(&text[start..])
}

/// The integer at the start of `text` (after spaces and an opening parenthesis).
pub fn leading_number(text: &str) -> Option<u64> {
    let t = text.trim_start_matches([' ', '(']);
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '_')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoHints;
    impl ErrorHints for NoHints {
        fn context_length(&self, _: u16, m: &str, _: Option<&Value>) -> Option<ContextInfo> {
            m.contains("too long").then(ContextInfo::default)
        }
    }

    fn classify(status: u16, body: &str) -> UpstreamError {
        classify_status("p", status, body.as_bytes(), None, &NoHints)
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(classify(429, "{}").kind, ErrorKind::RateLimited);
        assert_eq!(classify(529, "{}").kind, ErrorKind::Overloaded);
        assert_eq!(classify(503, "{}").kind, ErrorKind::Overloaded);
        assert_eq!(classify(500, "{}").kind, ErrorKind::Server);
        assert_eq!(classify(502, "{}").kind, ErrorKind::Server);
        assert_eq!(classify(504, "{}").kind, ErrorKind::Timeout);
        assert_eq!(classify(401, "{}").kind, ErrorKind::Auth);
        assert_eq!(classify(403, "{}").kind, ErrorKind::Auth);
        assert_eq!(classify(404, "{}").kind, ErrorKind::NotFound);
        assert_eq!(classify(400, "{}").kind, ErrorKind::InvalidRequest);
        assert_eq!(classify(402, "{}").kind, ErrorKind::Other);
        assert_eq!(
            classify(400, r#"{"error":{"message":"prompt too long"}}"#).kind,
            ErrorKind::ContextLength
        );
    }

    #[test]
    fn html_bodies_become_a_short_message_with_the_title() {
        let e = classify(
            502,
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        );
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(e.status, Some(502));
        assert_eq!(e.message, "HTTP 502 with an HTML body: 502 Bad Gateway");
    }

    #[test]
    fn messages_of_every_provider_shape() {
        for (body, want) in [
            (r#"{"error":{"message":"a","type":"x"}}"#, "a"),
            (
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                "Overloaded",
            ),
            (
                r#"[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]"#,
                "quota",
            ),
            (r#"{"id":"1","message":"too many"}"#, "too many"),
            (r#"{"error":"model not found"}"#, "model not found"),
        ] {
            assert_eq!(classify(400, body).message, want, "{body}");
        }
        assert_eq!(classify(500, "").message, "HTTP 500 with an empty body");
        assert_eq!(classify(500, "oops").message, "oops");
    }

    #[test]
    fn long_bodies_are_cut() {
        let e = classify(500, &"x".repeat(5000));
        assert!(e.message.chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn numbers_in_messages() {
        assert_eq!(
            number_after("maximum context length is 8,192 tokens", "length is "),
            Some(8192)
        );
        assert_eq!(
            number_after("The input token count (3475108) exceeds", "count"),
            Some(3475108)
        );
        assert_eq!(number_after("nothing here", "limit"), None);
    }
}
