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
use std::future::Future;

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";

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
    let Some(key) = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return work().await;
    };
    let service = &state.platform().idempotency;
    let org = &principal.org_id;
    match service
        .begin(org, &key, &request_hash(method, path, body))
        .await
    {
        Err(e) => ApiError(e).into_response(),
        Ok(Some(stored)) => replay(stored),
        Ok(None) => {
            let response = work().await;
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
                if let Err(e) = service.complete(org, &key, &stored).await {
                    tracing::warn!(error = %e, "could not store the idempotent response");
                }
            } else if let Err(e) = service.abandon(org, &key).await {
                tracing::warn!(error = %e, "could not release the idempotency key");
            }
            Response::from_parts(parts, Body::from(bytes))
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
