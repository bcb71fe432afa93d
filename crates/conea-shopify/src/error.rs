//! [`ShopifyApiError`], the one error of this crate, and reading Shopify's `errors` text out
//! of an error body.

use serde_json::Value;
use std::fmt;

/// What went wrong, as far as the caller's next step is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401 or 403: the access token is invalid, revoked, or lacks a scope. Not retried.
    Unauthorized,
    /// 404: the resource (or the shop) does not exist.
    NotFound,
    /// Still throttled after the allowed retries (429, `THROTTLED`), or a wait longer than
    /// the client accepts, or a query that costs more than the bucket can ever hold.
    Throttled,
    /// 5xx after the allowed retries.
    Server,
    /// Connecting, sending or reading failed (after the allowed retries), or timed out.
    Transport,
    /// Another 4xx (400, 406, 422, ...): the request is wrong. Not retried.
    Rejected,
    /// GraphQL answered with errors (other than `THROTTLED`).
    GraphQl,
    /// A 2xx answer that is not the JSON expected.
    Malformed,
    /// The client was built with an invalid shop domain, API version or base URL.
    InvalidConfig,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Server => "server_error",
            ErrorKind::Transport => "transport",
            ErrorKind::Rejected => "rejected",
            ErrorKind::GraphQl => "graphql",
            ErrorKind::Malformed => "malformed",
            ErrorKind::InvalidConfig => "invalid_config",
        }
    }
}

/// An Admin API call that failed, with what Shopify said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopifyApiError {
    pub kind: ErrorKind,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// Shopify's `errors` text, or what went wrong locally.
    pub message: String,
    /// Shopify's `X-Request-Id`, to quote to Shopify support.
    pub request_id: Option<String>,
}

impl ShopifyApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
            request_id: None,
        }
    }

    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// The kind an HTTP error status maps to.
    pub fn kind_of_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            429 => ErrorKind::Throttled,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Rejected,
        }
    }
}

impl fmt::Display for ShopifyApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shopify API error ({}", self.kind.as_str())?;
        if let Some(status) = self.status {
            write!(f, ", HTTP {status}")?;
        }
        write!(f, "): {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShopifyApiError {}

/// Longest message kept from an error body.
const MAX_MESSAGE: usize = 500;

/// Shopify's error text from an error body: `{"errors": "text"}`,
/// `{"errors": {"field": ["problem", ...]}}`, `{"errors": ["text", ...]}`,
/// `{"error": "...", "error_description": "..."}`, else the start of the body itself.
pub fn message_from_body(body: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errors")
                .map(describe)
                .or_else(|| oauth_error(&v))
                .filter(|m| !m.is_empty())
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    truncate(text)
}

fn oauth_error(v: &Value) -> Option<String> {
    let error = v.get("error")?.as_str()?;
    Some(match v.get("error_description").and_then(Value::as_str) {
        Some(d) => format!("{error}: {d}"),
        None => error.to_owned(),
    })
}

pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(describe).collect::<Vec<_>>().join("; "),
        Value::Object(map) => {
            // GraphQL error objects carry a `message`; REST validation errors are per field.
            if let Some(m) = map.get("message").and_then(Value::as_str) {
                return m.to_owned();
            }
            map.iter()
                .map(|(field, problems)| format!("{field}: {}", describe(problems)))
                .collect::<Vec<_>>()
                .join("; ")
        }
        other => other.to_string(),
    }
}

pub(crate) fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_read_from_each_body_shape() {
        assert_eq!(message_from_body(br#"{"errors":"Not Found"}"#), "Not Found");
        assert_eq!(
            message_from_body(br#"{"errors":{"title":["can't be blank"]}}"#),
            "title: can't be blank"
        );
        assert_eq!(
            message_from_body(br#"{"errors":[{"message":"Field 'x' doesn't exist"}]}"#),
            "Field 'x' doesn't exist"
        );
        assert_eq!(
            message_from_body(br#"{"error":"invalid_request","error_description":"bad"}"#),
            "invalid_request: bad"
        );
        assert_eq!(
            message_from_body(b"<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert!(message_from_body(&[b'x'; 2000]).chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn display_names_kind_status_message_and_request_id() {
        let e = ShopifyApiError::new(ErrorKind::Unauthorized, "[API] Invalid API key")
            .with_status(401)
            .with_request_id(Some("abc-123".into()));
        assert_eq!(
            e.to_string(),
            "Shopify API error (unauthorized, HTTP 401): [API] Invalid API key (request id abc-123)"
        );
    }
}
