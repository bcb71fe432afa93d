//! `Idempotency-Key` for POSTs that create work: wraps the work of a handler so the first
//! response is stored and replayed (see `conea_core::idempotency`).

use crate::http::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use conea_core::idempotency::request_hash;
use conea_core::principal::Principal;
use conea_core::store::StoredResponse;
use conea_core::{CoreError, ErrorCode};
use std::future::Future;

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";

/// The request's `Idempotency-Key`: `None` without the header; a value that is not text
/// (non-UTF-8 bytes) is 400 `invalid_idempotency_key`, never ignored.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) => Ok(Some(k.to_owned())),
        Err(_) => Err(ApiError(CoreError::InvalidInput {
            code: ErrorCode::InvalidIdempotencyKey,
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).".into(),
            param: Some("Idempotency-Key".into()),
        })),
    }
}

/// What a claimed key says to do.
pub enum Claim {
    /// First time: run the work, then [`settle`].
    Run,
    /// Answered before (the replay), or refused (in use, reused with another body).
    Answer(Response),
}

/// Claims `key` for this request (`hash` of its method, path and body).
pub async fn claim(state: &AppState, principal: &Principal, key: &str, hash: &str) -> Claim {
    match state
        .platform()
        .idempotency
        .begin(&principal.org_id, key, hash)
        .await
    {
        Err(e) => Claim::Answer(ApiError(e).into_response()),
        Ok(Some(stored)) => Claim::Answer(replay(stored)),
        Ok(None) => Claim::Run,
    }
}

/// Stores the work's response under `key` when it succeeded (replayed for 24 h), else
/// releases the key so it may be used again.
pub async fn settle(
    state: &AppState,
    principal: &Principal,
    key: &str,
    response: Response,
) -> Response {
    let service = &state.platform().idempotency;
    let org = &principal.org_id;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    if parts.status.is_success() {
        let keep = ["location", "content-type"];
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            headers: parts
                .headers
                .iter()
                .filter(|(n, _)| keep.contains(&n.as_str()))
                .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.to_string(), v.to_owned())))
                .collect(),
        };
        if let Err(e) = service.complete(org, key, &stored).await {
            tracing::warn!(error = %e, "could not store the idempotent response");
        }
    } else if let Err(e) = service.abandon(org, key).await {
        tracing::warn!(error = %e, "could not release the idempotency key");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Runs `work` once per (organization, key, request); replays its stored response after.
/// Without the header, simply runs `work`. Only 2xx responses are stored: after an error the
/// same key may be used again.
pub async fn once<F, Fut>(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
    work: F,
) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response>,
{
    let key = match key(headers) {
        Ok(Some(k)) => k,
        Ok(None) => return work().await,
        Err(e) => return e.into_response(),
    };
    match claim(state, principal, &key, &request_hash(method, path, body)).await {
        Claim::Answer(r) => r,
        Claim::Run => {
            let response = work().await;
            settle(state, principal, &key, response).await
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let mut r = Response::new(Body::from(stored.body));
    *r.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::from_str(&value)) {
            r.headers_mut().insert(n, v);
        }
    }
    r.headers_mut().insert(
        HeaderName::from_static(REPLAYED),
        HeaderValue::from_static("true"),
    );
    r
}
