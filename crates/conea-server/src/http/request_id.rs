//! `X-Request-Id`: taken from the client when it is a sane token (1 to 128 visible ASCII
//! characters), otherwise generated; echoed on every response, attached to every log line of
//! the request, and readable anywhere in the request's task (error bodies use it).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

pub fn is_sane(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map(str::to_owned)
        .unwrap_or_else(conea_core::ids::new_request_id);
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(HEADER, v.clone());
        let mut response = REQUEST_ID.scope(id, next.run(req)).await;
        response.headers_mut().insert(HEADER, v);
        response
    } else {
        next.run(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_visible_ascii_up_to_128() {
        assert!(is_sane("abc-123_XYZ"));
        assert!(!is_sane(""));
        assert!(!is_sane("has space"));
        assert!(!is_sane(&"x".repeat(129)));
        assert!(!is_sane("naïve"));
    }
}
