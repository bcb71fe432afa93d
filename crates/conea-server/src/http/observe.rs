//! Structured request logs and HTTP metrics, labelled by the route template (never the raw
//! path, so ids do not explode label cardinality). Logs never include headers or bodies, so
//! no credential can leak into them.

use crate::http::error::ServerErrorCause;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = super::request_id::current().unwrap_or_default();
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let timed = state
        .metrics()
        .cpu()
        .routes()
        .time(route.as_str(), next.run(req));
    let response = tracing::Instrument::instrument(timed, span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics()
        .observe_request(method.as_str(), &route, status, elapsed);
    let _enter = span.enter();
    if status >= 500 {
        // Every 5xx, whichever layer made it, goes to the error log (warnings and errors)
        // on a line that names the request id and the route itself (not only through the
        // span) and the cause; an unexpected failure also as an error.
        let found = response.extensions().get::<ServerErrorCause>();
        let cause = found.map_or("-", |c| c.cause.as_str());
        tracing::warn!(
            request_id = %request_id,
            method = %method,
            route = %route,
            status,
            cause,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request failed"
        );
        if found.is_some_and(|c| c.internal) {
            tracing::error!(
                request_id = %request_id,
                method = %method,
                route = %route,
                cause,
                "internal error"
            );
        }
    } else {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
}

/// Routes that stream uploads get the upload timeout instead of the request timeout.
pub const STREAMING_ROUTES: &[&str] = &["/v1/data/imports", "/api/v1/data/imports"];

/// Routes that run an insights question get its time budget (`CONEA_INSIGHTS_TIMEOUT`,
/// plus a margin so the question's own 504 answers first) when that is longer than the
/// request timeout.
pub const INSIGHTS_ROUTES: &[&str] = &[
    "/v1/insights/ask",
    "/api/v1/insights/ask",
    "/v1/insights/threads",
    "/api/v1/insights/threads",
    "/v1/insights/threads/{id}/messages",
    "/api/v1/insights/threads/{id}/messages",
];

/// The CPU profile answers after the `seconds` it samples: the request timeout plus the
/// longest profile.
pub const PROFILE_ROUTES: &[&str] = &["/v1/admin/profile", "/api/v1/admin/profile"];

/// (request timeout, upload timeout, insights timeout)
#[derive(Clone, Copy)]
pub struct Timeouts(
    pub std::time::Duration,
    pub std::time::Duration,
    pub std::time::Duration,
);

/// Picks the timeout of the matched route and runs the handler under it.
pub async fn route_timeout(State(t): State<Timeouts>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str());
    let limit = match route {
        Some(r) if STREAMING_ROUTES.contains(&r) => t.1,
        Some(r) if INSIGHTS_ROUTES.contains(&r) => t.0.max(t.2),
        // The handler bounds its own length (`seconds`, at most 300).
        Some(r) if PROFILE_ROUTES.contains(&r) => {
            t.0 + std::time::Duration::from_secs(crate::profiler::MAX_SECONDS)
        }
        _ => t.0,
    };
    timeout(State(limit), req, next).await
}

/// Runs the handler under the configured timeout; past it, answers 504 with the error body.
pub async fn timeout(
    State(limit): State<std::time::Duration>,
    req: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => axum::response::IntoResponse::into_response(
            crate::http::error::ApiError::timeout(limit),
        ),
    }
}

/// A panic in a handler becomes a logged 500 with the error body.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned());
    axum::response::IntoResponse::into_response(crate::http::error::ApiError(
        conea_core::CoreError::Internal(format!("handler panicked: {text}")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use std::time::Duration;
    use tower::ServiceExt;

    async fn body_json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn request_past_the_timeout_answers_504_with_error_body() {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route("/fast", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_secs(30),
                timeout,
            ));
        let req = |p: &str| {
            axum::http::Request::get(p)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let r = app.clone().oneshot(req("/slow")).await.unwrap();
        assert_eq!(r.status(), 504);
        let body = body_json(r).await;
        assert_eq!(body["error"]["code"], "request_timeout");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("30000 ms"));
        assert_eq!(app.oneshot(req("/fast")).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn panicking_handler_answers_500_without_leaking_the_panic() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if true {
                        panic!("secret detail")
                    }
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let r = app
            .oneshot(
                axum::http::Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let body = body_json(r).await;
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(!body.to_string().contains("secret detail"));
    }
}
